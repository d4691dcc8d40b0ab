"""The quality battery against a separately started Dask cluster: ``dask scheduler`` + two ``dask worker`` processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_bench_quality_runs_on_a_separately_started_scheduler_and_two_workers(tmp_path) -> None:
    scheduler_file = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard"],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        result = subprocess.run(
            [str(BIN / "workbench"), "bench", "quality", "--quick", "--replications", "1", "--scheduler", address],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        out = result.stdout
        assert result.returncode == 0, out + result.stderr
        assert f"2 replications on Dask scheduler {address}: 2 worker(s)" in out
        assert "acic 1 ATT" in out and "ihdp seed 1" in out and "did not finish" not in out
        assert "critic's separation" in out and "wall time" in out
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
