"""One adapter between the engine's frozen dataclasses and JSON, both ways.

:func:`to_json` writes any nest of dataclasses, enums, tuples and NumPy scalars;
:func:`from_dict` rebuilds the dataclass from the field types it declares. Every record and
result the engine stores goes through these two, so a field added to a type needs no code here.
"""

from __future__ import annotations

import functools
import json
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, TypeVar

__all__ = ["from_dict", "to_json", "to_jsonable"]

T = TypeVar("T")


def to_jsonable(obj: Any) -> Any:
    """Dataclasses and enums to plain JSON values (NaN and inf become None).

    Parameters
    ----------
    obj
        A dataclass, enum, dict, list, tuple, NumPy scalar or plain value, nested to any depth.

    Returns
    -------
    Any
        Dicts (a dataclass's fields by name, keys as strings), lists and plain values; a value
        of any other type is returned as it is.
    """
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return to_jsonable(obj.item())
    return obj


def to_json(obj: Any) -> str:
    """``obj`` as indented JSON text, through :func:`to_jsonable`.

    Parameters
    ----------
    obj
        Anything :func:`to_jsonable` takes.

    Returns
    -------
    str
        Non-ASCII characters kept as they are, with a final newline.
    """
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def from_dict(cls: type[T], data: Any, *, strict: bool = False) -> T:
    """Rebuild a record dataclass (nested dataclasses, enums, tuples) from JSON values.

    Keys the class does not have are ignored (a newer writer's additions), unless ``strict``:
    then they raise ``ValueError``, for input a person or an agent wrote.

    Parameters
    ----------
    cls
        The dataclass to build.
    data
        Its JSON values: a dict by field name, or None.
    strict
        Refuse keys ``cls`` does not have (at the top level only: nested dataclasses are read
        leniently).

    Returns
    -------
    T
        An instance of ``cls`` (fields missing from ``data`` take their defaults), or None
        when ``data`` is None.

    Raises
    ------
    ValueError
        With ``strict``, for keys ``cls`` does not have.
    """
    if data is None:
        return None  # type: ignore[return-value]
    hints = _type_hints(cls)  # type: ignore[arg-type]  # classes are hashable; typeshed's lru_cache says Hashable
    if strict:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})  # type: ignore[arg-type]
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(unknown)}")
    kwargs = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _coerce(hints[f.name], data[f.name])
    return cls(**kwargs)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` once per class: it dominates reading hundreds of records."""
    import typing

    return typing.get_type_hints(cls)


def _coerce(hint: Any, value: Any) -> Any:
    import types
    import typing

    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(inner[0], value) if len(inner) == 1 else value
    if origin is tuple:
        (item, *_rest) = typing.get_args(hint)
        return tuple(_coerce(item, v) for v in value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_coerce(item, v) for v in value]
    if isinstance(hint, type) and is_dataclass(hint):
        return from_dict(hint, value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value
