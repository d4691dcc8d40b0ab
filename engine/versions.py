"""Versions of Python and of the packages that decide results, recorded for reproducibility.

Read from package metadata, so nothing heavy is imported.
"""

from __future__ import annotations

import importlib.metadata
import platform

RESULT_PACKAGES = (
    "causal-workbench",
    "numpy",
    "pandas",
    "scipy",
    "pymc",
    "pytensor",
    "nutpie",
    "arviz",
    "econml",
    "scikit-learn",
    "GitPython",
)
"""Packages whose versions can change a number the workbench reports."""


def package_versions(names: tuple[str, ...] = RESULT_PACKAGES) -> dict[str, str]:
    """Python's version and each named package's (``"absent"`` when it is not installed).

    Parameters
    ----------
    names
        Distribution names as installed (``scikit-learn``, ``GitPython``).

    Returns
    -------
    dict of str to str
        ``python`` first, then each name.
    """
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions
