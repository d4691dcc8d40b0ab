"""The model child's tripwires after the model's code has run: threads, hooks, and output as written.

Each test plants what hostile model code would leave behind (a thread that outlives the
post-build check, a garbage-collector callback, a file swapped after the harness wrote it)
and checks that the layer meant for it says so. The red team's end-to-end attacks are in
``tests/hostile/fake_draws_*.py``.
"""

from __future__ import annotations

import _thread
import gc
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.draws import DIMS_FILE, DRAWS_FILE, HashingFile, tampered_files
from engine.harness import SampleReport
from engine.sandbox import integrity


def test_a_python_thread_started_after_the_snapshot_is_seen_even_where_native_threads_are_not_counted() -> None:
    before = integrity.take(integrity.WRITE_PATH)
    stop = threading.Event()
    _thread.start_new_thread(stop.wait, (5.0,))  # not in threading.enumerate(): only its frames show it
    try:
        found = integrity.changes(before, only=integrity.WRITE_PATH, threads=False)
    finally:
        stop.set()
    assert any("Python thread(s) it started are still running" in f for f in found), found


def test_a_thread_that_ends_within_the_grace_is_not_counted() -> None:
    before = integrity.take(integrity.WRITE_PATH)
    threading.Thread(target=time.sleep, args=(0.05,)).start()  # a progress callback finishing
    assert integrity.changes(before, only=integrity.WRITE_PATH, threads=False) == []


@pytest.mark.parametrize("hook", ["gc", "trace", "profile"])
def test_hooks_that_would_run_model_code_inside_the_harness_are_seen(hook: str) -> None:
    def callback(*args: object) -> None:
        return None

    before = integrity.take(integrity.WRITE_PATH)
    install, remove = {
        "gc": (lambda: gc.callbacks.append(callback), lambda: gc.callbacks.remove(callback)),
        "trace": (lambda: threading.settrace(callback), lambda: threading.settrace(None)),  # type: ignore[arg-type]
        "profile": (lambda: threading.setprofile(callback), lambda: threading.setprofile(None)),  # type: ignore[arg-type]
    }[hook]
    install()
    try:
        found = integrity.changes(before, only=integrity.WRITE_PATH, threads=False)
    finally:
        remove()
    assert any("was changed" in f for f in found), found
    assert integrity.changes(before, only=integrity.WRITE_PATH, threads=False) == []


def _written(folder: Path) -> SampleReport:
    with HashingFile(folder / DRAWS_FILE) as draws:
        np.savez(draws, estimand=np.full((2, 50), 4.0), loglik=np.zeros((2, 50, 3)))
    with HashingFile(folder / DIMS_FILE) as labels:
        labels.write(b'{"observed": "y", "dims": {}, "coords": {}}')
    return SampleReport(digests={DRAWS_FILE: draws.hexdigest(), DIMS_FILE: labels.hexdigest()})


class _Tripwire:
    """Runs code whenever anything reads an attribute of it or asks for its class (what hostile code plants)."""

    touched = 0

    def __getattr__(self, name: str) -> object:
        type(self).touched += 1
        raise AttributeError(name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() asks for this
        type(self).touched += 1
        return _Tripwire


def test_an_object_planted_in_a_watched_module_is_seen_and_never_run() -> None:
    """Red team round 5: the check itself read every attribute with getattr, which ran the plant."""
    before = integrity.take(integrity.WRITE_PATH)
    np._planted_by_a_model = _Tripwire()  # type: ignore[attr-defined]
    try:
        found = integrity.changes(before, only=integrity.WRITE_PATH, threads=False)
        integrity.take()
    finally:
        del np._planted_by_a_model  # type: ignore[attr-defined]
    assert "numpy._planted_by_a_model was added" in found, found
    assert _Tripwire.touched == 0


def test_a_submodule_imported_later_is_not_an_addition() -> None:
    import sys

    sys.modules.pop("numpy.ma.mrecords", None)
    vars(np.ma).pop("mrecords", None)
    before = integrity.take(integrity.WRITE_PATH)
    import numpy.ma.mrecords  # noqa: F401 - a lazy import, as PyMC does while building

    assert "mrecords" in vars(np.ma)  # the import did add an attribute
    assert integrity.changes(before, only=integrity.WRITE_PATH, threads=False) == []


def test_arrays_swapped_after_the_harness_wrote_them_are_not_scored(tmp_path: Path) -> None:
    report = _written(tmp_path)
    assert report.checked_files(tmp_path) is report  # as written: scored
    with np.load(tmp_path / DRAWS_FILE) as honest:  # the zip written in one pass reads back
        assert float(honest["estimand"].mean()) == 4.0
    np.savez(tmp_path / "forged.npz", estimand=np.full((2, 50), 10.0), loglik=np.zeros((2, 50, 3)))
    os.replace(tmp_path / "forged.npz", tmp_path / DRAWS_FILE)
    refused = report.checked_files(tmp_path)
    assert refused.error_type == "ModelTamperingError" and refused.crashed is not None
    assert "draws.npz" in refused.crashed and "nothing was scored" in refused.crashed
    assert refused.as_crashed().verdict.metrics.effect is None


def test_a_report_without_digests_or_a_linked_file_vouches_for_nothing(tmp_path: Path) -> None:
    report = _written(tmp_path)
    assert SampleReport().checked_files(tmp_path).error_type == "ModelTamperingError"  # not the harness's report
    (tmp_path / DIMS_FILE).unlink()
    (tmp_path / DIMS_FILE).symlink_to(tmp_path / "elsewhere.json")
    assert tampered_files(tmp_path, report.digests) == [DIMS_FILE]


@pytest.mark.parametrize("planted", ["fifo", "symlink", "file"])
def test_an_output_name_taken_before_the_harness_writes_is_not_written_through(tmp_path: Path, planted: str) -> None:
    target = tmp_path / DIMS_FILE
    if planted == "fifo":
        os.mkfifo(target)  # the model child's seccomp filter refuses mknod; this is the layer behind it
    elif planted == "symlink":
        target.symlink_to(tmp_path / "outside.json")
    else:
        target.write_text("{}")
    with pytest.raises(FileExistsError):
        HashingFile(target)
    assert not (tmp_path / "outside.json").exists()
