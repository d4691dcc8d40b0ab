"""Shared fixtures: the shipped problems, and throwaway copies of them to break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
SHIPPED = sorted(p.name for p in PROBLEMS.iterdir() if (p / "problem.toml").is_file())

# Test job functions live in tests/ modules, which the sandbox must see to import them by
# name; the rest of the project (problems, sessions) stays out of its view.
from engine.sandbox import expose  # noqa: E402

expose(ROOT / "tests")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def ihdp():
    from engine.problem_load import load_problem

    return load_problem(PROBLEMS / "ihdp")


@pytest.fixture
def problem_copy(tmp_path: Path):
    """Copy a shipped problem folder into ``tmp_path`` so a test can edit it freely."""

    def copy(name: str = "ihdp") -> Path:
        dest = tmp_path / name
        shutil.copytree(PROBLEMS / name, dest, ignore=shutil.ignore_patterns("__pycache__"))
        return dest

    return copy
