"""Reading a stranger's objects without running its code: through the built-in types' own descriptors.

Model code can define a ``__getattr__``, a ``__class__`` property, a metaclass or a ``str``
subclass with its own ``__eq__``; ``getattr``, ``isinstance``, ``vars`` and ``==`` on such an
object run that code. The integrity check and the model contract read objects the model may
have planted, after its code should have stopped running, so they read them only through these.
"""

from __future__ import annotations

import types

FUNCTION_CODE = vars(types.FunctionType)["__code__"]
"""``function.__code__``, read as the interpreter stores it."""
FUNCTION_GLOBALS = vars(types.FunctionType)["__globals__"]
"""``function.__globals__``."""
FUNCTION_DICT = vars(types.FunctionType)["__dict__"]
"""``function.__dict__`` (where ``functools.singledispatch`` keeps ``registry``)."""
MODULE_DICT = vars(types.ModuleType)["__dict__"]
"""``module.__dict__``, past a module subclass's own ``__dict__`` property."""
TYPE_DICT = vars(type)["__dict__"]
"""``cls.__dict__``, past a metaclass's property."""


def class_module(cls: type) -> str:
    """A class's ``__module__`` as stored ("?" when it is not a plain str).

    Parameters
    ----------
    cls
        Any class, the model's included.

    Returns
    -------
    str
    """
    module = vars(type)["__module__"].__get__(cls, type)
    return str.__str__(module) if type(module) is str else "?"


def class_name(cls: object) -> str:
    """A class's ``__qualname__`` as stored ("?" when it is not a str; a description when ``cls`` is no class).

    Parameters
    ----------
    cls
        Any object.

    Returns
    -------
    str
    """
    if not issubclass(type(cls), type):
        return f"<{type(cls).__name__} object>"
    name = vars(type)["__qualname__"].__get__(cls, type)
    return str.__str__(name) if isinstance(name, str) else "?"
