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
        # The model loop's answers name the keep rule's clause that kept them (the baseline: the reference).
        assert "kept (the first model to pass the gates; move baseline)" in out and "best models kept by: " in out
        assert "best models came from the move: " in out
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


@pytest.mark.slow
def test_ctrl_c_stops_workbench_batch_cleanly_and_the_same_command_resumes(tmp_path) -> None:
    import os
    import signal

    command = [
        str(BIN / "workbench"),
        "batch",
        "problems/retention_email",
        "--by",
        "wave",
        "--checks",
        "estimate",
        "--workers",
        "2",
        "--sessions-root",
        str(tmp_path),
    ]
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:  # the first recorded result, then Ctrl-C
        lines.append(line)
        if line.startswith("wave=") and " ATE " in line:
            proc.send_signal(signal.SIGINT)
            break
    rest, _ = proc.communicate(timeout=120)
    out = "".join(lines) + rest
    assert proc.returncode == 130, out
    assert "stopping: cancelling the running tasks" in out and "run the same command again to resume" in out
    (session,) = tmp_path.iterdir()
    resumed = subprocess.run(
        [*command[:2], str(session), *command[3:]], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    recorded_before = int(resumed.stdout.split(" recorded before")[0].rsplit(", ", 1)[1])
    assert 1 <= recorded_before < 4
    log = subprocess.run(["git", "log", "--format=%s"], cwd=session, capture_output=True, text=True).stdout
    assert sum(" wave=" in line for line in log.splitlines()) == 4  # each wave recorded once, across both runs
