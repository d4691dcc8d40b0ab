"""Dask, and nothing else, schedules batch work: connect to a cluster and stream tasks through it.

The embedded default is a ``LocalCluster`` of worker *processes* (one thread each), sized to
the machine; ``--scheduler tcp://host:8786`` or ``DASK_SCHEDULER_ADDRESS`` uses a cluster that
Dask's own deployers started (Kubernetes, SLURM, cloud). Each worker runs the workbench's
sandbox server of its own, so agent code never runs in a Dask process.

A worker lost mid-task (killed, out of memory, its machine gone) is handled by Dask: the
scheduler runs the task again elsewhere, :data:`ALLOWED_FAILURES` times at most, after which
the task fails with ``KilledWorker``. The client counts each start (the task announces it on
a Dask event topic), so a result says on which attempt it came.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from engine.batch.results import TaskStarted
from engine.errors import BatchError

ALLOWED_FAILURES = 1
"""How many times a task whose worker died is run again (Dask's ``allowed-failures``; its default is 3)."""

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
CONNECT_TIMEOUT_S = 20
POLL_S = 0.2  # how often the client looks up from waiting: for a stop request and start events

P = TypeVar("P")
R = TypeVar("R")


def default_workers() -> int:
    """One worker process per core this process may use.

    Returns
    -------
    int
    """
    return max(1, len(os.sched_getaffinity(0)))


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: on the given scheduler, or on a new ``LocalCluster`` that closes with it.

    Parameters
    ----------
    scheduler
        ``tcp://host:port`` of a running scheduler; default ``$DASK_SCHEDULER_ADDRESS``, else a
        ``LocalCluster``.
    workers
        Worker processes of the ``LocalCluster`` (default: one per core); ignored with a scheduler.

    Yields
    ------
    distributed.Client

    Raises
    ------
    BatchError
        When the scheduler cannot be reached, or ``workers`` is below 1.
    """
    import dask
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        if address:
            try:
                client = Client(address, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise BatchError(
                    f"cannot reach the Dask scheduler at {address} ({exc}). Start one with `dask scheduler` and "
                    "`dask worker <address>` on each machine (the workbench must be installed there too), or leave "
                    f"out --scheduler and unset {SCHEDULER_ENV} to use a cluster on this machine"
                ) from None
            with client:
                yield client
            return
        n = default_workers() if workers is None else workers
        if n < 1:
            raise BatchError(f"--workers {n}: a cluster needs at least one worker")
        with (
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # a free port: its HTTP server (health, metrics) always runs
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client


def describe(client: Any) -> str:
    """The cluster in a few words: where it is and how many workers and threads it has.

    Parameters
    ----------
    client
        A ``distributed.Client``.

    Returns
    -------
    str
    """
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    return f"Dask scheduler {info.get('address', '?')}: {len(workers)} worker(s), {threads} thread(s)"


def stream(
    client: Any,
    fn: Callable[[P], R],
    inputs: Mapping[str, P],
    *,
    topic: str,
    on_start: Callable[[TaskStarted], None],
    on_result: Callable[[str, R], None],
    on_error: Callable[[str, BaseException], None],
    stop: threading.Event | None = None,
) -> bool:
    """Run ``fn`` on every input as Dask tasks; report each start and each result as it comes.

    The callbacks run in the calling thread, one at a time (never in Dask's event loop), so they
    may write the session.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    fn
        A module-level function (the workers import it by name).
    inputs
        Task key → the argument for ``fn``.
    topic
        The event topic ``fn`` announces starts on, with ``{"key", "worker", "pid"}``; events for
        keys not in ``inputs`` are ignored.
    on_start
        Called when a worker starts a task (again, after a lost worker).
    on_result
        Called with the key and the value of each task that finished.
    on_error
        Called with the key and the exception of a task that raised, or whose workers kept dying.
    stop
        When set, the tasks still queued or running are cancelled and this returns.

    Returns
    -------
    bool
        True when every task ended; False when ``stop`` ended it early.
    """
    from distributed import wait

    starts: queue.Queue[TaskStarted] = queue.Queue()

    def heard(event: tuple[float, Any]) -> None:  # Dask's event loop: hand over, nothing else
        _, msg = event
        if isinstance(msg, dict) and msg.get("key") in inputs:
            starts.put(TaskStarted(str(msg["key"]), str(msg.get("worker", "")), int(msg.get("pid", 0))))

    client.subscribe_topic(topic, heard)
    futures = {
        client.submit(fn, arg, key=f"wb-{_safe(key)}-{os.urandom(4).hex()}", pure=False): key
        for key, arg in inputs.items()
    }
    pending = set(futures)
    try:
        while pending:
            if stop is not None and stop.is_set():
                return False
            try:
                finished = wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED").done
            except TimeoutError:  # nothing finished within the poll: look for starts and the stop flag
                finished = set()
            _drain(starts, on_start)
            for future in finished:
                pending.discard(future)
                key = futures[future]
                if future.status == "finished":
                    on_result(key, future.result())
                elif future.status != "cancelled":
                    on_error(key, future.exception())
        _drain(starts, on_start)
        return True
    finally:
        if pending:
            client.cancel(list(pending), force=True)
        client.unsubscribe_topic(topic)


def _drain(starts: queue.Queue[TaskStarted], on_start: Callable[[TaskStarted], None]) -> None:
    while True:
        try:
            on_start(starts.get_nowait())
        except queue.Empty:
            return


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "_-=." else "_" for c in key)[:60]
