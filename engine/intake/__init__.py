"""Turn a CSV and the principal's decisions about every column into a problem folder (``workbench new``)."""
