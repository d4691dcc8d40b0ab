"""The job protocol between the parent, the warm server and a job's child, and the restricted
unpickler for what the child sends back.

Channels
    - The command socket, parent to server: one byte per command, file descriptors attached:
      :data:`CMD_JOB` with the job's control socket and the write end of its message pipe,
      :data:`CMD_JIT` for the JIT warm-up. The server announces ``ready`` and ``jit`` on the
      same socket as pickled dicts (the server runs only our code).
    - A control socket per job: the parent writes the job payload as one :func:`frame`; the
      server answers :data:`CTL_PID` once it forked the child and :data:`CTL_EXIT` with the
      exit code once it reaped it (:func:`pack_control`); the parent orders
      :data:`ORDER_TERM` or :data:`ORDER_KILL` for the child's process group.
    - A message pipe per job, child to parent: pickled ``(kind, body)`` pairs
      (:func:`encode_message`): ``started``, ``progress``, then ``result`` or ``error``. The
      child runs untrusted code, so the parent decodes them with :func:`_safe_loads` only:
      plain values, NumPy arrays and scalars, ``engine`` dataclasses and enums, nothing
      callable.

The job payload is ``(header, call)``: the header (work folder, ``sys.path``, limits) and
the pickled ``(fn, args, kwargs)``, which the child unpickles only once its limits apply.
"""

from __future__ import annotations

import dataclasses
import pickle
import struct
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from engine.showable import showable

CMD_JOB = b"J"
CMD_JIT = b"W"
CTL_PID = b"P"
CTL_EXIT = b"X"
ORDER_TERM = b"T"
ORDER_KILL = b"K"


def encode_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bytes:
    """Pickle the call for the child; a ``TypeError`` that says what to pass if it cannot travel.

    Parameters
    ----------
    fn
        A module-level function the child can import by name.
    args, kwargs
        Its arguments.

    Returns
    -------
    bytes
        The pickled ``(fn, args, kwargs)``.

    Raises
    ------
    TypeError
        When the function or an argument cannot be pickled.
    """
    try:
        return pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # pickling raises many types: PicklingError, TypeError, AttributeError
        raise TypeError(
            f"cannot send the job to the sandbox: {exc}; pass a module-level function and picklable args"
        ) from exc


def encode_job(header: Mapping[str, Any], call: bytes) -> bytes:
    """The job payload the parent sends to the server.

    Parameters
    ----------
    header
        Work folder, ``sys.path`` and limits, for the server and the child.
    call
        The pickled call, from :func:`encode_call`.

    Returns
    -------
    bytes
        The pickled ``(header, call)``.
    """
    return pickle.dumps((header, call), protocol=pickle.HIGHEST_PROTOCOL)


def decode_job(payload: bytes) -> tuple[dict[str, Any], bytes]:
    """The server's side of :func:`encode_job` (a plain unpickle: the payload comes from our own parent).

    Parameters
    ----------
    payload
        What :func:`encode_job` returned.

    Returns
    -------
    tuple of (dict, bytes)
        The header, and the call still pickled.
    """
    return pickle.loads(payload)  # from our own parent, through the server


def decode_call(call: bytes) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
    """Unpickle the call; this imports the function's module, so the child does it under its limits.

    Parameters
    ----------
    call
        What :func:`encode_call` returned.

    Returns
    -------
    tuple
        ``(fn, args, kwargs)``.
    """
    return pickle.loads(call)


def encode_message(kind: str, body: Any) -> bytes:
    """A message from the child to the parent, to be read with :func:`_safe_loads`.

    Parameters
    ----------
    kind
        ``started``, ``progress``, ``result`` or ``error``.
    body
        The payload: plain values, NumPy arrays or ``engine`` dataclasses and enums.

    Returns
    -------
    bytes
        The pickled ``(kind, body)``.
    """
    return pickle.dumps((kind, body), protocol=pickle.HIGHEST_PROTOCOL)


def frame(payload: bytes) -> bytes:
    """The framing of ``multiprocessing.connection.Connection.send_bytes`` (payloads < 2 GiB).

    Parameters
    ----------
    payload
        The bytes to send.

    Returns
    -------
    bytes
        A 4-byte big-endian signed length, then ``payload``.
    """
    return struct.pack("!i", len(payload)) + payload


def pack_control(kind: bytes, value: int) -> bytes:
    """The server's report on a job's control socket: one kind byte and a native 8-byte integer.

    Parameters
    ----------
    kind
        :data:`CTL_PID` or :data:`CTL_EXIT`.
    value
        The child's pid, or its exit code.

    Returns
    -------
    bytes
        Nine bytes.
    """
    return kind + struct.pack("q", value)


def unpack_control(data: bytes) -> tuple[bytes, int]:
    """The reverse of :func:`pack_control`.

    Parameters
    ----------
    data
        At least nine bytes from a control socket.

    Returns
    -------
    tuple of (bytes, int)
        The kind byte and the value.
    """
    return data[:1], struct.unpack("q", data[1:9])[0]


# --------------------------------------------------------------------------- restricted unpickling

_SAFE_BUILTINS = frozenset(
    {
        "dict",
        "list",
        "tuple",
        "set",
        "frozenset",
        "str",
        "bytes",
        "bytearray",
        "int",
        "float",
        "complex",
        "bool",
        "slice",
        "range",
    }
)
_SAFE_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("pathlib", "PosixPath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "Path"),
        ("copyreg", "_reconstructor"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
    }
)


class _SafeUnpickler(pickle.Unpickler):
    """Only plain values, NumPy arrays and ``engine`` dataclasses and enums; nothing callable."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        if module.startswith("engine.") and "." not in name:
            obj = super().find_class(module, name)
            if isinstance(obj, type) and (dataclasses.is_dataclass(obj) or issubclass(obj, Enum)):
                return obj
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a sandbox message")


def _safe_loads(data: bytes) -> tuple[str, Any]:
    import io

    message = _SafeUnpickler(io.BytesIO(data)).load()
    if not (isinstance(message, tuple) and len(message) == 2 and isinstance(message[0], str)):
        raise pickle.UnpicklingError("a sandbox message must be a (kind, body) pair")
    return message


def nonconformity(
    value: Any, hint: Any = None, where: str = "the message", _open: frozenset[int] = frozenset()
) -> str | None:
    """Why ``value`` does not match its dataclass's annotations, or None when it does.

    An ``engine`` dataclass arriving from a child was rebuilt by pickle, which sets fields
    without running any constructor: a hostile child can send a ``SamplingProgress`` whose
    ``elapsed_s`` is a string, or a report whose timings are lists, and the parent would
    only fail later, somewhere else (a screen formatting ``{x:.1f}``). Checking every field
    against its annotation on arrival turns that into a protocol error at the border.

    Parameters
    ----------
    value
        What arrived (a dataclass, a container, a plain value).
    hint
        The annotation ``value`` must satisfy; None checks a dataclass against its own fields.
    where
        The path to ``value``, for the message.
    _open
        Ids of the dataclasses being checked above this one: a dataclass that contains
        itself is refused as such, whatever the recursion limit.

    Returns
    -------
    str or None
        The first mismatch, e.g. ``"the message.elapsed_s is str, not float"``.
    """
    import types
    import typing

    if hint is None or hint is Any or hint is object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if id(value) in _open:
                return f"{where} contains itself"
            inside = _open | {id(value)}
            try:
                hints = typing.get_type_hints(type(value))
            except (NameError, TypeError):  # a hint names a type its module imports lazily
                hints = {}
            for f in dataclasses.fields(value):
                field_value = getattr(value, f.name, None)
                problem = nonconformity(field_value, hints.get(f.name), f"{where}.{f.name}", inside)
                if problem:
                    return problem
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        problems = [nonconformity(value, arm, where, _open) for arm in args]
        return None if any(p is None for p in problems) else next(p for p in problems if p)
    if origin is typing.Literal:
        return None if value in args else f"{where} is {value!r}, not one of {args}"
    if hint is type(None):
        return None if value is None else f"{where} is {type(value).__name__}, not None"
    if origin in (tuple, list):
        if not isinstance(value, origin):
            return f"{where} is {type(value).__name__}, not {origin.__name__}"
        items = args[:1] if (origin is list or (len(args) == 2 and args[1] is Ellipsis)) else args
        if origin is tuple and items is args and args and len(value) != len(args):
            return f"{where} has {len(value)} items, not {len(args)}"
        for i, item in enumerate(value):
            problem = nonconformity(item, items[0] if len(items) == 1 else items[i], f"{where}[{i}]", _open)
            if problem:
                return problem
        return None
    if origin is dict:
        if not isinstance(value, dict):
            return f"{where} is {type(value).__name__}, not dict"
        key_hint, value_hint = args or (Any, Any)
        for key, item in value.items():
            problem = nonconformity(key, key_hint, f"{where} key", _open) or nonconformity(
                item, value_hint, f"{where}[{key!r}]", _open
            )
            if problem:
                return problem
        return None
    if origin is not None or not isinstance(hint, type):
        return None  # an annotation this check does not model (callables, generics): left to the reader
    import numpy as np

    if hint is float:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    elif hint is int:
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    elif hint is bool:
        ok = isinstance(value, (bool, np.bool_))
    else:
        ok = isinstance(value, hint)
    if not ok:
        return f"{where} is {type(value).__name__}, not {hint.__name__}"
    return nonconformity(value, None, where, _open) if dataclasses.is_dataclass(hint) else None


def printable(value: Any, _seen: frozenset[int] = frozenset()) -> Any:
    """``value`` with every string in it made safe to show: control and direction characters become U+FFFD.

    Text from a child (an exception's message, a traceback, a coordinate label the model chose)
    reaches screens, records and reports. An escape sequence in it would reach the principal's
    terminal as a command (clear the screen, a hidden hyperlink); a right-to-left override would
    show ``exe.txt`` as ``txt.exe``. Rich's markup is not the risk here (screens pass text as
    ``Text``, the report escapes HTML); the raw characters are.

    Parameters
    ----------
    value
        What a child sent, after the border's checks: dataclasses (changed in place, frozen or
        not), dicts, lists, tuples, strings; anything else is returned as it is.
    _seen
        Ids of the dataclasses being walked above this one.

    Returns
    -------
    Any
        The same structure, every string cleaned.
    """
    if isinstance(value, Enum):  # an engine enum (a StrEnum is a str too): its values are the engine's own
        return value
    if isinstance(value, str):
        return showable(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if id(value) in _seen:
            return value
        inside = _seen | {id(value)}
        for f in dataclasses.fields(value):
            current = getattr(value, f.name, None)
            cleaned = printable(current, inside)
            if cleaned is not current:
                object.__setattr__(value, f.name, cleaned)
        return value
    if isinstance(value, dict):
        return {printable(k, _seen): printable(v, _seen) for k, v in value.items()}
    if isinstance(value, list):
        return [printable(v, _seen) for v in value]
    if type(value) is tuple:
        return tuple(printable(v, _seen) for v in value)
    return value
