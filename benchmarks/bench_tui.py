"""TUI timings: ``workbench open`` to the first frame, and key-press latency while sampling.

Targets (the speed issue's, also in ``bench_speed.py``'s summary): first frame within 0.5 s
(no PyMC on that path), key presses handled within 50 ms while nutpie samples in the sandbox.
Printed, never asserted::

    python benchmarks/bench_tui.py               # both measurements
    python benchmarks/bench_tui.py --first-frame # only the start-up one (no sampling)

The first-frame number is measured in a fresh process, from just before it is spawned to
the moment the app has drawn its first screen (headless, so no terminal is involved),
so it includes interpreter start-up and every import on the way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBLEM = ROOT / "problems" / "ihdp"
FIRST_FRAME_TARGET_S = 0.5
KEY_LATENCY_TARGET_MS = 50.0

CHILD = """
import json, sys, time
import textual.app
from workbench.app import create_app
out = {{}}
# The first call of App._display is the first frame written to the (headless) terminal.
_display = textual.app.App._display
def display(self, screen, renderable):
    if "first_frame" not in out:
        out["first_frame"] = time.time()
        out["pymc_loaded_at_first_frame"] = "pymc" in sys.modules
    return _display(self, screen, renderable)
textual.app.App._display = display
app = create_app({problem!r}, sessions_root={root!r}, warm_up=False)
async def auto(pilot):
    while app.opened is None:
        await pilot.pause(0.01)
    await pilot.pause()
    out["opened"] = time.time()
    out["pymc_loaded_when_open"] = "pymc" in sys.modules
    app.exit()
app.run(headless=True, auto_pilot=auto, size=(100, 30))
app.close_session()
print("BENCH " + json.dumps(out))
"""


@dataclass(frozen=True)
class FirstFrame:
    """Seconds from spawning a fresh ``workbench open`` process to its first frame and to the opened session."""

    frames: list[float]
    opens: list[float]
    pymc_loaded: bool  # PyMC was imported in the app process (it never should be)

    @property
    def median(self) -> float:
        return statistics.median(self.frames)

    def describe(self) -> str:
        return (
            f"workbench open → first frame: median {self.median:.2f} s "
            f"(min {min(self.frames):.2f}, max {max(self.frames):.2f}, n={len(self.frames)}; "
            f"target ≤ {FIRST_FRAME_TARGET_S} s)\n"
            f"workbench open → session loaded (home filled): median {statistics.median(self.opens):.2f} s"
        )


@dataclass(frozen=True)
class KeyLatency:
    """Milliseconds while nutpie samples: key → frame of the new screen, escape → frame back, event-loop lag."""

    latencies: list[float]
    back: list[float]
    lags: list[float]
    updates: int  # progress updates the run screen drew

    @property
    def median(self) -> float:
        return statistics.median(self.latencies)

    def describe(self) -> str:
        latencies = sorted(self.latencies)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        lines = [
            f"key press → first frame of the new screen, while sampling ('?' opens help): median {self.median:.0f} ms, "
            f"p95 {p95:.0f} ms, max {max(latencies):.0f} ms (n={len(latencies)}; target ≤ {KEY_LATENCY_TARGET_MS:.0f} ms)"
        ]
        if self.back:
            lines.append(
                f"escape → first frame of the run screen again: median {statistics.median(self.back):.0f} ms, "
                f"max {max(self.back):.0f} ms"
            )
        if self.lags:
            lags = sorted(self.lags)
            lines.append(
                f"event-loop lag while sampling: median {statistics.median(lags):.1f} ms, "
                f"p99 {lags[min(len(lags) - 1, int(0.99 * len(lags)))]:.1f} ms, max {max(lags):.1f} ms"
            )
        lines.append(f"progress updates drawn during the run: {self.updates}")
        return "\n".join(lines)


def first_frame(repeats: int) -> FirstFrame:
    """Spawn ``repeats`` fresh processes and time each to its first frame and to the opened session."""
    frames, opens = [], []
    pymc_loaded = False
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as root:
            start = time.time()
            result = subprocess.run(
                [sys.executable, "-c", CHILD.format(problem=str(PROBLEM), root=root)],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=120,
            )
            line = next((l for l in result.stdout.splitlines() if l.startswith("BENCH ")), None)
            if line is None:
                print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)
                raise SystemExit("the app did not report its first frame")
            data = json.loads(line[6:])
            frames.append(data["first_frame"] - start)
            opens.append(data["opened"] - start)
            if data["pymc_loaded_at_first_frame"] or data["pymc_loaded_when_open"]:
                pymc_loaded = True
                print("WARNING: pymc was imported in the app process", file=sys.stderr)
    return FirstFrame(frames, opens, pymc_loaded)


async def key_latency(presses: int, draws: int) -> KeyLatency | None:
    """Approve the heuristic agent's first proposal and press keys while it samples.

    Returns None when sampling ended before a key could be pressed.
    """
    from engine.loop import RunOptions
    from engine.problem import SamplingSettings
    from screens.help import HelpScreen
    from screens.review import ReviewScreen
    from screens.run import RunScreen, chains_of
    from workbench.app import create_app

    options = RunOptions(sampling=SamplingSettings(chains=4, draws=draws, tune=draws, seed=7))
    with tempfile.TemporaryDirectory() as root:
        app = create_app(PROBLEM, sessions_root=root, options=options)
        async with app.run_test(size=(100, 30)) as pilot:
            while app.opened is None:
                await pilot.pause(0.05)
            await pilot.press("p")
            while not isinstance(app.screen, ReviewScreen):
                await pilot.pause(0.1)
            await pilot.press("a")
            while not isinstance(app.screen, RunScreen):
                await pilot.pause(0.05)
            run_screen = app.screen
            while isinstance(app.screen, RunScreen) and not chains_of(run_screen.run.progress):
                await pilot.pause(0.05)  # wait until chains report: nutpie has compiled and samples
            latencies, back, lags = [], [], []
            frames: list[tuple[float, object]] = []
            display = app._display  # private: the call that writes a frame to the terminal

            def recording_display(screen, renderable):  # noqa: ANN001, ANN202
                frames.append((time.perf_counter(), screen))
                return display(screen, renderable)

            app._display = recording_display  # type: ignore[method-assign]

            def first_frame_of(kind: type, since: float) -> float | None:
                return next((t - since for t, screen in frames if t >= since and isinstance(screen, kind)), None)

            async def probe_lag() -> None:
                while isinstance(app.screen, (RunScreen, HelpScreen)):
                    t = time.perf_counter()
                    await asyncio.sleep(0.01)
                    lags.append((time.perf_counter() - t - 0.01) * 1000)

            lag_task = asyncio.create_task(probe_lag())
            for _ in range(presses):
                if not isinstance(app.screen, RunScreen):
                    break
                start = time.perf_counter()
                await pilot.press("question_mark")
                await pilot.pause(0.05)
                shown = first_frame_of(HelpScreen, start)
                if shown is None:
                    break  # the run ended under our feet
                latencies.append(shown * 1000)
                start = time.perf_counter()
                await pilot.press("escape")
                await pilot.pause(0.05)
                hidden = first_frame_of(RunScreen, start)
                if hidden is not None:
                    back.append(hidden * 1000)
                await pilot.pause(0.2)
            updates = run_screen.updates
            lag_task.cancel()
            result = (latencies, back, lags, updates)
            while isinstance(app.screen, RunScreen):
                await pilot.pause(0.2)
            await pilot.pause(0.5)  # let the verdict screen finish mounting before the app exits
        app.close_session()
    latencies, back, lags, updates = result
    return KeyLatency(latencies, back, lags, updates) if latencies else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-frame", action="store_true", help="only the start-up measurement")
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes for the first-frame timing")
    parser.add_argument("--presses", type=int, default=20, help="key presses while sampling")
    parser.add_argument(
        "--draws", type=int, default=1000, help="draws (and tuning steps) per chain while pressing keys"
    )
    args = parser.parse_args()
    print(first_frame(args.repeats).describe())
    if not args.first_frame:
        sys.path.insert(0, str(ROOT))
        keys = asyncio.run(key_latency(args.presses, args.draws))
        print(keys.describe() if keys else "sampling finished before any key could be pressed; raise --draws")


if __name__ == "__main__":
    main()
