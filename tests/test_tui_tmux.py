"""Smoke test in a real terminal: ``workbench open problems/ihdp`` inside tmux, keys sent
with ``send-keys``, the screen read back with ``capture-pane`` — as a person would use it.

Slow (a cold process, the agent and the compile check); run with ``-m slow``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import git
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Tmux:
    """One tmux server on a private socket, holding one session that runs ``command``."""

    def __init__(self, command: str, width: int = 100, height: int = 30) -> None:
        self.socket = f"workbench-smoke-{os.getpid()}"
        self._tmux("new-session", "-d", "-s", "smoke", "-x", str(width), "-y", str(height), command)

    def _tmux(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30)
        return result.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "smoke")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self._tmux("send-keys", "-t", "smoke", key)
            time.sleep(0.3)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "smoke", "-l", text)

    def wait_for(self, *texts: str, timeout: float = 120.0) -> str:
        """Wait until every one of ``texts`` is on screen (a frame may arrive in pieces).

        The default is generous because it is only a ceiling: the wait ends at the first frame
        that shows the texts. At 60 s, one wait failed once on this 2-core machine while a
        battery sampled beside the test; alone, the same step takes seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{texts!r} did not appear within {timeout:.0f} s; the screen shows:\n{self.screen()}")

    def wait_exit(self, done: Path, timeout: float = 30.0) -> None:
        """Wait for the command to write its exit code to ``done``; it must be 0."""
        deadline = time.monotonic() + timeout
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert done.exists() and done.read_text().strip() == "0", self.screen()

    def alive(self) -> bool:
        return (
            subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "smoke"], capture_output=True).returncode
            == 0
        )

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def test_open_review_reject_quit_in_a_real_terminal(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    done = tmp_path / "exit-code"
    command = (
        f"cd {ROOT} && {sys.executable} -m workbench.cli open problems/ihdp --sessions-root {sessions}; "
        f"echo $? > {done}; sleep 2"
    )
    tmux = Tmux(command)
    try:
        tmux.wait_for("press p for the next proposal", "IHDP", "iterations", "Propose", timeout=90)

        tmux.keys("?")
        tmux.wait_for("binding id")
        tmux.keys("Escape", "h")
        tmux.wait_for("iterations, newest first")
        tmux.keys("Escape")

        tmux.keys("p")
        tmux.wait_for("proposal for iteration 1", "diff: model.py", "Approve", "Reject", timeout=300)

        tmux.keys("r")
        tmux.wait_for("Reject this proposal")
        tmux.type("smoke test: not now")
        tmux.keys("Enter")
        tmux.wait_for("iteration 1 rejected", "iterations (1)", timeout=60)

        tmux.keys("q")
        tmux.wait_exit(done)
    finally:
        tmux.close()
    (session,) = [p for p in sessions.iterdir() if p.is_dir() and not p.name.startswith(".")]
    message = git.Repo(session).head.commit.message
    assert "rejected" in message and "smoke test: not now" in message


def test_an_edit_is_what_the_verdict_shows_in_a_real_terminal(tmp_path: Path) -> None:
    """Edit the proposal, approve the edit, and read the edit back on the verdict's Diff tab."""
    sessions = tmp_path / "sessions"
    command = f"cd {ROOT} && {sys.executable} -m workbench.cli open problems/ihdp --sessions-root {sessions}; sleep 2"
    tmux = Tmux(command)
    try:
        tmux.wait_for("press p for the next proposal", timeout=90)
        tmux.keys("p")
        tmux.wait_for("proposal for iteration 1", "Approve", timeout=300)
        tmux.keys("e")
        tmux.wait_for("Approve edit", "model.py")
        tmux.keys("C-Home")
        tmux.type("# smoke: the principal's own line")
        tmux.keys("Enter", "C-s")
        tmux.wait_for("kept", "iteration 1", "Diff", timeout=600)  # guard, compile check, sampling, LOO
        tmux.keys("3")
        screen = tmux.wait_for("What ran: the principal's edit", "+# smoke: the principal's own line")
        assert "(w: the agent's proposal)" in screen
        tmux.keys("w")
        proposed = tmux.wait_for("The agent's proposal, before the principal's edit", "(no change)")
        assert "+# smoke" not in proposed  # the agent proposed the baseline unchanged
        tmux.keys("q")
    finally:
        tmux.close()
    (session,) = [p for p in sessions.iterdir() if p.is_dir() and not p.name.startswith(".")]
    ran = (session / "iterations" / "0001" / "model.py").read_text()
    assert ran.startswith("# smoke: the principal's own line")


def test_workbench_new_in_a_real_terminal(tmp_path: Path) -> None:
    """``workbench new`` on a CSV made here: the form, every suggestion taken, the folder, then the workbench."""
    import numpy as np
    import pandas as pd

    from engine.problem_load import load_problem

    rng = np.random.default_rng(5)
    n = 200
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    frame = pd.DataFrame(
        {"t": t, "y": (1 + t + x + rng.normal(size=n)).round(3), "x": x.round(3), "age": rng.integers(20, 70, n)}
        | {"clicked_after": np.where(t == 1, rng.integers(0, 2, n), 0)}
    )
    frame.to_csv(tmp_path / "smoke.csv", index=False)
    out, done = tmp_path / "smoke", tmp_path / "exit-code"
    command = (
        f"cd {ROOT} && {sys.executable} -m workbench.cli new {tmp_path / 'smoke.csv'} --out {out} "
        f"--treatment t --outcome y --no-compile --sessions-root {tmp_path / 'sessions'}; echo $? > {done}; sleep 2"
    )
    tmux = Tmux(command)
    try:
        tmux.wait_for("smoke.csv", "suggestions ready", timeout=60)  # mounted, focused, suggestions in
        tmux.type("Does t raise y?")
        tmux.wait_for("Does t raise y?")
        tmux.keys("C-n")
        tmux.wait_for("clicked_after", timeout=60)
        tmux.keys("a")
        tmux.wait_for("accepted the suggestion")
        tmux.keys("C-s")
        tmux.wait_for("press p for the next proposal", timeout=120)  # written, checked, and the workbench open
        tmux.keys("q")
        tmux.wait_exit(done)
    finally:
        tmux.close()
    contract = load_problem(out).contract
    assert contract.controls == ("x", "age") and contract.forbidden_names == {"clicked_after"}
    assert load_problem(out).question == "Does t raise y?"
