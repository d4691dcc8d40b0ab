"""Many analyses at once, on Dask: partitions with one population, sweeps, and the quality battery.

A batch re-runs one fixed analysis (the session's best ``analysis.toml`` or ``model.py``) per
level of a pre-treatment column and/or per value of a setting. :mod:`engine.batch.request` parses what was asked,
:mod:`engine.batch.plan` turns the request into tasks, :mod:`engine.batch.cluster` runs them as Dask tasks (a ``LocalCluster``
or a running scheduler; Dask is the only scheduler), each task runs the same sandboxed harness
an approved iteration runs (:mod:`engine.batch.task`), and :mod:`engine.batch.run` records each
result in the session's history as it arrives (:mod:`engine.batch.store`) — the client alone
writes the session. No agent runs in a batch task; the quality battery's replications
(:mod:`engine.batch.battery`) run the offline agent in scratch sessions of their own.
"""
