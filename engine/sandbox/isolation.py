"""The outer wall: the warm server and every job inside Linux namespaces, through bubblewrap.

bubblewrap (``bwrap``, the tool Flatpak is built on) starts the warm server in new user,
mount, PID, network, IPC, UTS and cgroup namespaces with every capability dropped. What the
server and its jobs see:

- read-only: ``/usr`` (with the merged-/usr symlinks), the Python installation, the virtual
  environment, the ``engine`` package and the few extra folders a caller names (tests), the
  dynamic linker's cache; nothing else of the host — no session repository, no problem
  folder, no ``truth.json``, no home, no ``/etc/passwd``;
- read-write: the server's *jobs* folder (each job works in its own randomly named folder
  there, which the parent empties into the caller's ``workdir`` afterwards) and a private
  ``/tmp``;
- read-only again: the trusted compiler cache (:mod:`engine.sandbox.cache`), which each job
  copies into its own folder before any agent code runs;
- no network at all (an empty network namespace: not even the host's loopback);
- an environment built from an allow-list (:data:`ENV_ALLOW`): bwrap itself is started
  with that minimal environment too, because ``/proc/1/environ`` inside the sandbox is
  bwrap's own and readable by the jobs.

Without bubblewrap (another OS, a kernel without unprivileged user namespaces, or
``WORKBENCH_SANDBOX=inner``) the workbench still runs, and :func:`isolation_report` says
plainly that only the inner layers (rlimits, seccomp, the audit hook, the guard) protect the
user.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ENGINE_ROOT = Path(__file__).resolve().parents[1]
"""The ``engine`` package folder: the only part of the project a job can see."""

ENV_ALLOW = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "PYTENSOR_FLAGS",
    "NUMBA_CACHE_DIR",
    "PYTHONHASHSEED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPATH",
    "WORKBENCH_TRUSTED_CACHE",
    "WORKBENCH_SANDBOX_HOME",
)
"""Environment variables a sandbox may receive; everything else (API keys above all) stays out."""

SANDBOX_HOME = "/home/sandbox"
"""The server's home inside the namespaces: written while it starts, sealed before the first job."""

MODE_VARIABLE = "WORKBENCH_SANDBOX"
"""``inner`` switches the namespace sandbox off (tests of the fallback, machines without it)."""


@dataclass(frozen=True)
class Layer:
    """One layer of protection and whether it is active here."""

    name: str
    active: bool
    detail: str


@dataclass(frozen=True)
class IsolationReport:
    """Which layers protect the user on this machine, for ``workbench check --sandbox``,
    the home screen's banner and the report."""

    namespaces: bool
    layers: tuple[Layer, ...]
    warning: str | None  # one sentence for a banner when the namespace sandbox is off

    def lines(self) -> list[str]:
        """One line per layer: ``on`` or ``off``, its name and what it does (or why it is off).

        Returns
        -------
        list of str
        """
        return [f"{'on ' if layer.active else 'off'}  {layer.name}: {layer.detail}" for layer in self.layers]


def bwrap_executable() -> str | None:
    """The ``bwrap`` to use, or None when the namespace sandbox is unavailable or switched off.

    Returns
    -------
    str or None
        The path of a ``bwrap`` that could create the namespaces here (probed once per path),
        or None on another platform, without bubblewrap, or with ``WORKBENCH_SANDBOX=inner``.
    """
    if os.environ.get(MODE_VARIABLE, "").strip().lower() == "inner":
        return None
    return _working_bwrap(shutil.which("bwrap"))


@functools.lru_cache(maxsize=4)
def _working_bwrap(path: str | None) -> str | None:
    """Run bwrap once with the options the server uses; a kernel may refuse user namespaces."""
    if path is None or not sys.platform.startswith("linux"):
        return None
    probe = [path, "--unshare-all", "--cap-drop", "ALL", "--die-with-parent", *_system_binds(), "--", "/usr/bin/true"]
    try:
        done = subprocess.run(probe, env=_minimal_env(), capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if done.returncode == 0 else None


def _unavailable_reason() -> str:
    if os.environ.get(MODE_VARIABLE, "").strip().lower() == "inner":
        return f"switched off by {MODE_VARIABLE}=inner"
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux; this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap)"
    return "bwrap is installed but cannot create namespaces here (unprivileged user namespaces disabled?)"


def isolation_report() -> IsolationReport:
    """Describe the layers that protect the user from agent-written code on this machine.

    Returns
    -------
    IsolationReport
        Every layer with whether it is active, and a banner warning when the namespaces are off.
    """
    from engine.sandbox.seccomp import seccomp_supported

    bwrap = bwrap_executable()
    seccomp_ok, seccomp_detail = seccomp_supported()
    ns_detail = (
        f"{bwrap}: read-only view of Python and its libraries, one writable job folder, no network, "
        "own PID namespace, no capabilities, allow-listed environment; no view of sessions, problems or truth.json"
        if bwrap
        else _unavailable_reason()
    )
    layers = (
        Layer("namespaces (bubblewrap)", bwrap is not None, ns_detail),
        Layer("seccomp filter", seccomp_ok, seccomp_detail),
        Layer("limits", True, "wall-clock timeout, resident-memory watchdog, address-space and file-size rlimits"),
        Layer("secret-free environment", True, "API keys and tokens are removed before the sandbox starts"),
        Layer("audit hook", True, "refuses Python-level writes outside the job folder, sockets, processes, truth.json"),
        Layer(
            "separate scorer",
            True,
            "gates, PSIS-LOO, the keep rule and the effect come from a process that never ran agent code",
        ),
        Layer("guard", True, "static scan of every proposal before anyone reads it"),
    )
    warning = None
    if bwrap is None:
        warning = (
            "Namespace sandbox off: " + _unavailable_reason() + ". Only the inner layers (limits, seccomp, "
            "audit hook, guard) stand between agent code and your files, network and environment."
        )
    return IsolationReport(bwrap is not None, layers, warning)


# --------------------------------------------------------------------------- the command line


def _minimal_env() -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _system_binds() -> list[str]:
    """``/usr`` read-only, the merged-/usr symlinks, /proc, /dev and a private /tmp."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        target = os.path.join("/", name)
        if os.path.islink(target):
            args += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            args += ["--ro-bind", target, target]
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    return args


def python_roots() -> list[str]:
    """Folders the interpreter and its packages live in (read-only inside the sandbox).

    Returns
    -------
    list of str
        ``sys.base_prefix``, ``sys.prefix`` and the executable's prefix, resolved and sorted;
        ``/``, ``/usr`` and folders under ``/usr`` are left out (``/usr`` is bound anyway).
    """
    roots = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(r for r in roots if r not in ("/", "/usr") and not r.startswith("/usr/"))


def sandbox_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The allow-listed environment a sandboxed server receives, with a home on its own tmpfs
    (:data:`SANDBOX_HOME`).

    Parameters
    ----------
    environ
        The environment to filter (usually the server's, already free of secrets).

    Returns
    -------
    dict of str to str
        The variables in :data:`ENV_ALLOW`, plus ``HOME``, ``XDG_CACHE_HOME``, ``MPLCONFIGDIR``,
        ``TMPDIR`` and ``WORKBENCH_SANDBOX_HOME`` pointing into that home.
    """
    env = {k: v for k, v in environ.items() if k in ENV_ALLOW}
    # A home the server writes while it imports (ArviZ's and Matplotlib's caches), then seals
    # (engine.sandbox.zygote); /tmp is read-only and each job's TMPDIR is inside its own folder.
    env.update(
        HOME=SANDBOX_HOME,
        XDG_CACHE_HOME=f"{SANDBOX_HOME}/.cache",
        MPLCONFIGDIR=f"{SANDBOX_HOME}/.config/matplotlib",
        TMPDIR=f"{SANDBOX_HOME}/tmp",
        WORKBENCH_SANDBOX_HOME=SANDBOX_HOME,
    )
    return env


def bwrap_command(
    bwrap: str,
    argv: list[str],
    env: Mapping[str, str],
    *,
    writable: Iterable[str],
    readable: Iterable[str] = (),
) -> list[str]:
    """The full bwrap command line that runs ``argv`` in the sandbox.

    Parameters
    ----------
    bwrap
        Path of the bwrap executable.
    argv
        The command to run inside (the warm server).
    env
        Its environment (already allow-listed); set with ``--clearenv`` + ``--setenv``.
    writable
        Host folders bound read-write at the same path (the jobs folder).
    readable
        Extra host folders bound read-only at the same path (tests, the trusted cache).

    Returns
    -------
    list of str
        ``bwrap``, its options, ``--`` and ``argv``.
    """
    args = [
        bwrap,
        "--unshare-all",  # user, ipc, pid, net, uts, cgroup
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "sandbox",
        *_system_binds(),
    ]
    for root in python_roots():
        args += ["--ro-bind", root, root]
    args += ["--ro-bind", str(ENGINE_ROOT), str(ENGINE_ROOT)]
    for path in readable:
        args += ["--ro-bind-try", str(path), str(path)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    # /tmp read-only once every mount point under it exists: no job can leave a file there for the next
    args += [
        "--remount-ro",
        "/tmp",
        "--tmpfs",
        SANDBOX_HOME,
        "--dir",
        f"{SANDBOX_HOME}/tmp",
        "--chdir",
        "/",
        "--clearenv",
    ]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return [*args, "--", *argv]


def spawn_environment() -> dict[str, str]:
    """The environment bwrap itself is started with (it shows through ``/proc/1/environ``).

    Returns
    -------
    dict of str to str
        Only ``PATH`` and ``LANG``.
    """
    return _minimal_env()
