"""The project as a user installs it: a wheel, installed non-editably into a fresh virtual
environment, with ``workbench check problems/ihdp`` run from another directory.

The development ``.venv`` has the project installed *editable* (setuptools' ``__editable__``
finder maps ``engine``, ``screens`` and ``workbench`` to this checkout), so the rest of the
suite cannot notice a module or data file that the wheel leaves out, or code that reads a
file relative to the repository. Here:

- the wheel is built from a clean copy of the working tree (no stale ``build/``, nothing
  written into the checkout), by the running environment's build backend when it satisfies
  ``[build-system] requires`` and can build wheels, otherwise in pip's isolated build
  environment, which needs a package index (the test is skipped when none answers);
- the fresh environment gets the third-party dependencies already installed in the running
  environment, as hard links (no network, no copies), minus the project's own editable
  hooks. They have to live *inside* the fresh environment: the namespace sandbox binds only
  the interpreter's prefixes (``engine.sandbox.isolation.python_roots``) and the installed
  ``engine`` package, so dependencies reached through a ``.pth`` line pointing elsewhere are
  invisible to the sandbox server. Where hard links are impossible (another file system) the
  dependencies come through such a ``.pth`` line instead, and the check runs with the inner
  sandbox layers only (``WORKBENCH_SANDBOX=inner``);
- the commands run with the fresh interpreter, from a folder outside the checkout, without
  ``PYTHONPATH`` or the user site, and the test asserts that the installed copy, not this
  checkout, is what they import.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.sandbox.isolation import bwrap_executable

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "screens", "workbench")
DIST = re.sub(r"[-_.]+", "_", tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]).lower()

# Not part of a build: environments, caches, build outputs, sessions, the history.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".*_cache",
    ".hypothesis",
    "sessions",
    "reports",
)

pytestmark = pytest.mark.slow  # builds a wheel and a venv: about 25 s; `make test-slow` runs it


@dataclass(frozen=True)
class Installed:
    venv: Path
    python: Path
    workbench: Path
    site_packages: Path
    source: Path  # the copy the wheel was built from
    env: dict[str, str]  # the environment to run the installed commands with
    self_contained: bool  # False when the dependencies come through a .pth line (sandbox: inner layers only)


def _run(cmd: list[str | Path], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    return subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _build_requirements_installed() -> bool:
    """True when the running environment satisfies ``[build-system] requires`` (it may build offline)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]:
        requirement = Requirement(spec)
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(version, prereleases=True):
            return False
    return True


def _build_wheel(source: Path, wheels: Path) -> Path:
    """``pip wheel`` the copy: offline with the running environment's build backend when it
    satisfies the project's build requirements and can build a wheel, otherwise in pip's isolated
    build environment (as ``pip install .`` does), which needs a package index."""
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--wheel-dir", wheels]
    tried = ""
    if _build_requirements_installed():
        offline = _run([*base, "--no-build-isolation", source], cwd=source)
        if offline.returncode == 0:
            return _the_wheel(wheels)
        # e.g. setuptools < 70.1 without the `wheel` package has no bdist_wheel
        tried = f"--- without build isolation ---\n{offline.stdout[-3000:]}{offline.stderr[-3000:]}\n"
    isolated = _run([*base, "--timeout", "30", "--retries", "1", source], cwd=source)
    if isolated.returncode != 0:
        text = isolated.stdout + isolated.stderr
        if re.search(r"No matching distribution found for setuptools|Could not find a version that satisfies", text):
            pytest.skip(
                "cannot build the wheel: the build backend is not installed here "
                "and no package index is reachable for an isolated build"
            )
        pytest.fail(f"pip wheel failed\n{tried}--- isolated ---\n{text[-6000:]}")
    return _the_wheel(wheels)


def _the_wheel(wheels: Path) -> Path:
    (wheel,) = wheels.glob(f"{DIST}-*.whl")
    return wheel


def _own_files(name: str, text: str | None) -> bool:
    """Entries of the running environment's site-packages that belong to the project itself."""
    if name in PACKAGES or name.startswith("__editable__") or name.lower().startswith(DIST):
        return True
    return name.endswith(".pth") and text is not None and str(ROOT) in text


def _hard_link_dependencies(src: Path, dst: Path) -> bool:
    """Hard-link every third-party entry of ``src`` into ``dst``; False if the file system refuses."""
    probe = next(p for p in sorted(src.iterdir()) if p.is_file() and not p.is_symlink())
    try:
        os.link(probe, dst / ".link-probe")
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOTSUP):
            return False
        raise
    (dst / ".link-probe").unlink()
    for entry in sorted(src.iterdir()):
        text = entry.read_text(errors="replace") if entry.suffix == ".pth" else None
        if _own_files(entry.name, text):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(
                entry,
                dst / entry.name,
                symlinks=True,
                copy_function=os.link,
                ignore=shutil.ignore_patterns("__editable__*"),
            )
        else:
            os.link(entry, dst / entry.name, follow_symlinks=False)
    return True


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE, symlinks=True)
    wheel = _build_wheel(source, base / "wheels")

    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site_packages = Path(
        _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base).stdout.strip()
    )
    assert site_packages.is_dir() and site_packages.is_relative_to(venv), site_packages

    # Installed first, while the fresh environment sees nothing of the running one: pip then
    # finds no other copy of the project to uninstall.
    done = _run(
        [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check", "install"]
        + ["--no-deps", "--no-index", wheel],
        cwd=base,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    ours = Path(sysconfig.get_paths()["purelib"])
    self_contained = _hard_link_dependencies(ours, site_packages)
    if not self_contained:
        # A .pth line only adds the folder to sys.path: the .pth files inside it (the editable
        # finder's) are processed for site directories only, so the checkout stays out of reach.
        (site_packages / "_dependencies.pth").write_text(f"{ours}\n")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    env["COLUMNS"] = "250"  # the console wraps at the terminal's width
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "/usr/bin:/bin")])
    if not self_contained:
        env["WORKBENCH_SANDBOX"] = "inner"
    return Installed(venv, python, venv / "bin" / "workbench", site_packages, source, env, self_contained)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory outside the checkout, with nothing in it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_the_fresh_environment_imports_the_installed_copy(installed: Installed, elsewhere: Path):
    code = (
        "import importlib.metadata as md, json, sys\n"
        "import engine, screens, workbench, workbench.cli\n"
        "dist = md.distribution('causal-workbench')\n"
        "print(json.dumps({\n"
        "    'files': {m.__name__: m.__file__ for m in (engine, screens, workbench)},\n"
        "    'editable': sorted(m for m in sys.modules if 'editable' in m),\n"
        "    'direct_url': dist.read_text('direct_url.json'),\n"
        "}))\n"
    )
    done = _run([installed.python, "-c", code], cwd=elsewhere, env=installed.env)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    for name, file in seen["files"].items():
        assert Path(file) == installed.site_packages / name / "__init__.py", f"{name} imported from {file}"
        assert not Path(file).is_relative_to(ROOT)
    assert seen["editable"] == []
    # pip installed it from the wheel file, not editable (an editable install records dir_info.editable).
    assert '"editable": true' not in (seen["direct_url"] or "")


def test_the_wheel_holds_every_file_of_the_packages(installed: Installed):
    """Every module and data file of the source packages (``app.tcss`` above all) is installed."""
    source = {
        p.relative_to(installed.source).as_posix()
        for name in PACKAGES
        for p in (installed.source / name).rglob("*")
        if p.is_file()
    }
    copied = {
        p.relative_to(installed.site_packages).as_posix()
        for name in PACKAGES
        for p in (installed.site_packages / name).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert "workbench/app.tcss" in copied
    assert sorted(source - copied) == []


def test_workbench_check_ihdp_from_another_directory(installed: Installed, elsewhere: Path):
    problem = ROOT / "problems" / "ihdp"
    done = _run([installed.workbench, "check", problem], cwd=elsewhere, env=installed.env, timeout=600)
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "IHDP" in out
    assert "747 units, 139 treated" in out
    assert f"guard: {problem / 'model.py'}: no findings" in out
    assert f"guard: {problem / 'analysis.toml'}: no findings" in out
    assert re.search(r"compile check passed in [\d.]+ s: \d+ free parameters", out), out
    if installed.self_contained and bwrap_executable() is not None:
        # The sandbox server ran in bubblewrap's namespaces, which show it the fresh environment and
        # its engine package only: the compile check passing means the installed copy works there.
        assert "sandbox: namespaces on (bubblewrap)" in out
    else:
        assert "sandbox: Namespace sandbox off" in out
    assert list(elsewhere.iterdir()) == []


def test_the_sandbox_report_runs_from_the_installed_copy(installed: Installed, elsewhere: Path):
    done = _run([installed.workbench, "check", "--sandbox"], cwd=elsewhere, env=installed.env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "sandbox layers on this machine:" in out
    assert "audit hook" in out
