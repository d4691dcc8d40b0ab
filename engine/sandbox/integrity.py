"""Notice when model code changed the libraries the harness runs after it, in the same process.

The model child must run the model's code (``build_model``) and then harness code in the
same process: adding the log-likelihood and the estimand, sampling, writing the arrays. A
model that replaces ``pm.logp``, ``np.savez`` or a function of :mod:`engine.effects` — by
assignment, ``setattr``, ``func.__code__ = …`` or a class attribute, through whatever route
the guard did not follow — would change what the scorer later reads. :func:`take` records
the identity of every attribute of the libraries the harness uses (and of their functions'
code and defaults, and their classes' attributes) before the model's code runs;
:func:`changes` lists what differs afterwards, and the harness refuses to go on if anything
does. It also notices threads the model left running (every Python thread by its frames, so
one started later by a hook is seen after sampling too), and the hooks through which its code
could run again inside the harness's own steps: ``gc.callbacks``, trace and profile functions,
signal handlers and interval timers. (Audit hooks cannot be listed: the sandbox's own refuses
new ones.)

This is a tripwire, not a wall: code that writes the interpreter's memory through ctypes can
defeat anything in its own process. The guard's blockers on ctypes, ``sys.modules`` and
monkeypatching, and the seccomp filter, stand in front of it.
"""

from __future__ import annotations

import datetime
import gc
import os
import signal
import sys
import threading
import time
import types
from dataclasses import dataclass, field

from engine.sandbox.static import FUNCTION_DICT, MODULE_DICT, TYPE_DICT, class_module, class_name

WATCHED = frozenset(
    {
        "numpy",
        "scipy",
        "pandas",
        "pymc",
        "pytensor",
        "nutpie",
        "xarray",
        "numba",
        "llvmlite",
        "engine",
        "builtins",
        "h5netcdf",
        "h5py",
        "netCDF4",
        "pickle",
        "json",
        "zipfile",
        "io",
        "os",
        "sys",
        "functools",
        "threading",
        "math",
        "operator",
        "warnings",
        "copy",
        "collections",
    }
)
"""Top-level packages whose attributes the model child's harness relies on after the model's code has run.

ArviZ is not among them: the model child does not score, so a patched ``az.loo`` changes nothing."""

_Key = tuple[str, str]


@dataclass
class Snapshot:
    """Identities of the watched attributes at one moment."""

    attributes: dict[_Key, int] = field(default_factory=dict)
    threads: int = 0
    modules: frozenset[_Key] = frozenset()  # attributes that hold a module (a lazy import adds those)
    python_threads: frozenset[int] = frozenset()  # threads running Python code, by ident


def _watched_modules() -> list[tuple[str, types.ModuleType]]:
    return [
        (name, module)
        for name, module in list(sys.modules.items())
        if issubclass(type(module), types.ModuleType) and name.partition(".")[0] in WATCHED
    ]


COUNTERS = {
    ("pytensor.compile.profiling", n) for n in ("total_fct_exec_time", "total_graph_rewrite_time", "total_time_linker")
}
"""PyTensor's own timing totals: every compile (an HSGP's ``.eval()`` while building) adds to them."""


def _record(into: dict[_Key, int], owner: str, name: str, value: object) -> None:
    if (owner, name) in COUNTERS and type(value) is float:
        return  # a float that grows with each compile steers nothing; any other value there is watched
    if _library_cache(name, value):
        return
    into[(owner, name)] = id(value)
    if type(value) is types.FunctionType:
        into[(owner, name + ".__code__")] = id(value.__code__)
        into[(owner, name + ".__defaults__")] = id(value.__defaults__)
        into[(owner, name + ".__kwdefaults__")] = id(value.__kwdefaults__)


def _registries(into: dict[_Key, int], owner: str, name: str, value: object) -> None:
    """Entries of ``functools.singledispatch`` registries (PyTensor's funcify tables).

    Replacing an existing entry changes compiled code. New entries are not watched: libraries
    register their own as they import submodules lazily (the guard refuses ``.register`` calls).
    """
    if type(value) is not types.FunctionType:  # singledispatch's wrapper is a plain function
        return
    namespace = FUNCTION_DICT.__get__(value, types.FunctionType)
    registry = dict.get(namespace, "registry")
    if not dict.__contains__(namespace, "register") or type(registry) is not types.MappingProxyType:
        return
    (mapping,) = gc.get_referents(registry) or (None,)  # read the plain dict behind the proxy, not its methods
    if type(mapping) is not dict:
        return
    for cls, impl in list(dict.items(mapping)):
        into[(owner, f"{name}.registry[{class_name(cls)}]")] = id(impl)


def _library_cache(name: str, value: object) -> bool:
    """What libraries add on their own while the harness runs, in the one shape they add it.

    ``copyreg`` caches a class's slot names when it is first pickled (the progress messages);
    rust-numpy (nutpie) leaves its borrow-checking capsule on NumPy's ``multiarray``. An object of
    any other type under those names is watched like anything else.
    """
    if name == "__slotnames__":
        return type(value) is list and all(type(item) is str for item in value)
    return name == "_RUST_NUMPY_BORROW_CHECKING_API" and type(value) is _CAPSULE


_CAPSULE = type(datetime.datetime_CAPI)


def _import_system(into: dict[_Key, int]) -> None:
    """The import machinery: a finder or hook added by the model decides what later imports load."""
    into[("sys", "meta_path[]")] = hash(tuple(id(f) for f in sys.meta_path))
    into[("sys", "path_hooks[]")] = hash(tuple(id(h) for h in sys.path_hooks))
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in WATCHED:
            into[("sys.modules", name)] = id(module)


def _hooks(into: dict[_Key, int]) -> None:
    """Where code registered now runs later on the harness's own thread: gc callbacks, trace and profile
    functions, signal handlers and armed interval timers."""
    into[(HOOKS, "gc.callbacks[]")] = hash(tuple(id(c) for c in gc.callbacks))
    into[(HOOKS, "sys.settrace[]")] = id(sys.gettrace())
    into[(HOOKS, "sys.setprofile[]")] = id(sys.getprofile())
    into[(HOOKS, "threading.settrace[]")] = id(threading.gettrace())
    into[(HOOKS, "threading.setprofile[]")] = id(threading.getprofile())
    into[(HOOKS, "a signal handler[]")] = hash(tuple(id(handler) for handler in _signal_handlers()))
    into[(HOOKS, "an interval timer[]")] = hash(tuple(signal.getitimer(t) != (0.0, 0.0) for t in _TIMERS))


_TIMERS = (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)


def _signal_handlers() -> list[object]:
    """Every signal's Python handler: one the model set runs on the harness's thread, whenever the signal comes."""
    handlers: list[object] = []
    for number in sorted(signal.valid_signals()):
        try:
            handlers.append(signal.getsignal(number))
        except (OSError, ValueError):
            continue
    return handlers


def _python_threads() -> frozenset[int]:
    """Threads running Python code now (a thread blocked in a call still shows its caller's frame)."""
    return frozenset(sys._current_frames())


THREAD_GRACE_S = 0.5
"""How long a new Python thread may take to end before it counts (a progress callback finishing)."""


def _lingering(started: frozenset[int]) -> list[int]:
    """The threads in ``started`` still running Python code after :data:`THREAD_GRACE_S`."""
    left = sorted(started)
    deadline = time.monotonic() + THREAD_GRACE_S
    while left and time.monotonic() < deadline:
        time.sleep(0.01)
        running = sys._current_frames()
        left = [i for i in left if i in running]
    return left


def _task_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _owned(owner: str, only: tuple[str, ...] | None) -> bool:
    """Whether ``owner`` is watched under ``only`` (owner prefixes; None watches every owner)."""
    return only is None or owner.startswith(only)


def take(only: tuple[str, ...] | None = None) -> Snapshot:
    """Record the watched attributes now (call right before the model's code runs).

    Parameters
    ----------
    only
        Record only owners with these prefixes (what :func:`changes` compares when it is given
        ``only``): the after-sampling check then scans a few modules, not all 250,000 attributes.

    Returns
    -------
    Snapshot
        The identities of the watched modules' attributes, of their classes' attributes and of
        the import machinery, and the number of threads.
    """
    attributes: dict[_Key, int] = {}
    classes: dict[int, type] = {}
    modules: set[_Key] = set()
    for module_name, module in _watched_modules():
        wanted = _owned(module_name, only)
        try:
            items = list(dict.items(MODULE_DICT.__get__(module, types.ModuleType)))
        except TypeError:
            continue
        for name, value in items:
            if wanted:
                _record(attributes, module_name, name, value)
                _registries(attributes, module_name, name, value)
                if issubclass(type(value), types.ModuleType):
                    modules.add((module_name, name))
            if issubclass(type(value), type) and class_module(value).partition(".")[0] in WATCHED:
                classes[id(value)] = value
    for cls in classes.values():
        owner = f"{class_module(cls)}.{class_name(cls)}"
        if not _owned(owner, only):
            continue
        for name, value in list(TYPE_DICT.__get__(cls, type).items()):
            _record(attributes, owner, name, value)
    _import_system(attributes)
    _hooks(attributes)
    return Snapshot(attributes, _task_count(), python_threads=_python_threads(), modules=frozenset(modules))


HOOKS = "hooks"
"""The owner under which :func:`take` records the hooks (always compared)."""
WRITE_PATH = ("numpy", "engine", "zipfile", "json", "builtins", "io", "os", "pathlib", "sys.modules", HOOKS)
"""Owners of what the harness calls to write the arrays; nothing there changes while a model samples."""


def _added(before: Snapshot, after: Snapshot, only: tuple[str, ...] | None) -> list[str]:
    """Attributes that did not exist at ``before``: an object planted in ``numpy``'s namespace waits there
    for whatever reads it later. Submodules (a lazy import), the attributes of a module or class
    that is itself new (nutpie's classes appear when it first compiles), new dispatch registrations
    (libraries add their own as they import) and new entries in ``sys.modules`` are not counted."""
    found = []
    owners = {owner for owner, _ in before.attributes}  # a module or class new since then brings its own
    for key in after.attributes.keys() - before.attributes.keys():
        owner, name = key
        if owner not in owners or not _owned(owner, only) or owner in (HOOKS, "sys", "sys.modules"):
            continue
        if key in after.modules:
            continue
        if name.endswith(("]", "__code__", "__defaults__", "__kwdefaults__")):
            continue
        found.append(f"{owner}.{name} was added")
    return sorted(found)


def changes(before: Snapshot, limit: int = 5, only: tuple[str, ...] | None = None, threads: bool = True) -> list[str]:
    """What the model's code changed since ``before``: replaced attributes and code, new threads.

    ``only`` limits the comparison to owners with those prefixes (after sampling, when
    compiling legitimately loads and patches parts of Numba and PyTensor); ``threads=False``
    skips the count of the process's threads (the sampler leaves its native pools behind).
    Threads running Python code that were not running at ``before`` are always reported: the
    sampler's pools run none once it has finished.

    Parameters
    ----------
    before
        A snapshot from :func:`take`.
    limit
        Stop after this many changed attributes (a thread message may still follow).
    only
        Owner prefixes to compare (``"numpy"``, ``"engine"``…); None compares everything.
    threads
        Also report any threads (native ones too) started since ``before`` and still running.

    Returns
    -------
    list of str
        One sentence per change (``numpy.var was replaced``); empty when nothing changed.
    """
    after = take(only)
    found = []
    for key, ident in before.attributes.items():
        if not _owned(key[0], only):
            continue
        now = after.attributes.get(key)
        if key[1].endswith("[]"):
            if now != ident:
                found.append(f"{key[1][:-2] if key[0] == HOOKS else f'{key[0]}.{key[1][:-2]}'} was changed")
        elif now is not None and now != ident:
            found.append(f"{key[0]}.{key[1]} was replaced")
        elif now is None and not key[1].endswith(("__code__", "__defaults__", "__kwdefaults__")):
            found.append(f"{key[0]}.{key[1]} was deleted")
        if len(found) >= limit:
            break
    if len(found) < limit:
        found += _added(before, after, only)[: limit - len(found)]
    if threads and after.threads > before.threads:
        found.append(f"{after.threads - before.threads} thread(s) were started and are still running")
    started = _lingering(after.python_threads - before.python_threads - {threading.get_ident()})
    if started:
        frames = sys._current_frames()
        where = [
            f"{frames[i].f_code.co_name} in {os.path.basename(frames[i].f_code.co_filename)}"
            for i in started
            if i in frames
        ]
        found.append(
            f"{len(started)} Python thread(s) it started are still running ({', '.join(where) or 'ended just now'})"
        )
    return found
