"""What ``build_model`` leaves behind: names that are not plain strings, and model code still alive.

A ``str`` subclass as a name, or a function of ``model.py`` kept alive by the model (a
``CustomDist``'s ``logp``, a callback, a class of an instance the model holds), would run its
own code inside the harness's steps, after every check. These checks read the objects through
the built-in types' own descriptors, so reading them runs no model code.
"""

from __future__ import annotations

import gc
import types
from collections.abc import Sequence
from typing import Any

from engine.contract import MODEL_FILENAME, MODEL_MODULE
from engine.sandbox.static import FUNCTION_CODE, FUNCTION_GLOBALS, class_module, class_name


def names_problem(model: Any) -> tuple[str, str] | None:
    """A variable name, dimension or coordinate label that is not a plain string or number: (error, hint), or None.

    The harness hashes and compares these names while it writes the arrays; a ``str`` subclass
    would run its own ``__hash__`` or ``__eq__`` there, after every check.

    Parameters
    ----------
    model
        What ``build_model`` returned (a ``pm.Model``).

    Returns
    -------
    tuple of (str, str) or None
        The first odd name found, or None.
    """
    names = list(model.named_vars) + list(model.coords)
    for dims in model.named_vars_to_dims.values():
        names += [d for d in dims or () if d is not None]
    odd = [type(name) for name in names if type(name) is not str]
    labels = [label for values in model.coords.values() for label in values or ()]
    odd += [
        type(label) for label in labels if type(label) not in _PLAIN_LABELS and class_module(type(label)) != "numpy"
    ]
    if not odd:
        return None
    return (
        f"the model names a variable, dimension or coordinate with a {class_module(odd[0])}.{class_name(odd[0])} "
        "instead of a plain str or number",
        "name variables, dims and coords with plain strings, and give coordinates strings or numbers",
    )


_PLAIN_LABELS = (str, int, float, bool)


def model_code_left(before: Sequence[object] = ()) -> list[str]:
    """Functions and classes of ``model.py`` still alive after ``build_model`` returned, by name.

    Call it once the model module is gone from ``sys.modules`` and nothing holds it: a model
    function kept alive (a ``CustomDist``'s ``logp``, a weakref or ``atexit`` callback, a
    method of a class whose instance the model holds) would run inside the harness's own
    steps, where no check sees it. The garbage collector runs first, so cycles through the
    module's namespace are gone; every attribute is read through its type's own descriptor,
    so reading them runs no model code.

    Parameters
    ----------
    before
        :func:`model_code_alive` taken before the module was loaded: code of earlier models in
        the same process (an in-process run, a test) is not this model's.

    Returns
    -------
    list of str
        Sorted, de-duplicated names; empty when nothing of the model's code is left.
    """
    gc.collect()
    earlier = {id(obj) for obj in before}
    return sorted({_describe(obj) for obj in model_code_alive() if id(obj) not in earlier})


def model_code_alive() -> list[object]:
    """Every function and class alive now that came from a ``model.py`` (or hides where it came from).

    Returns
    -------
    list of object
        The objects themselves (hold them to compare by identity later).
    """
    found: list[object] = []
    for obj in gc.get_objects():
        kind = type(obj)
        if kind is types.FunctionType:
            code = FUNCTION_CODE.__get__(obj, kind)
            module = dict.get(FUNCTION_GLOBALS.__get__(obj, kind), "__name__")
            from_model = type(module) is str and module == MODEL_MODULE
            if type(code.co_filename) is not str or code.co_filename == MODEL_FILENAME or from_model:
                found.append(obj)
        elif issubclass(kind, type) and class_module(obj) == MODEL_MODULE:
            found.append(obj)
    return found


def _describe(obj: object) -> str:
    if type(obj) is types.FunctionType:
        code = FUNCTION_CODE.__get__(obj, types.FunctionType)
        filed = str.__str__(code.co_filename) if type(code.co_filename) is str else "?"
        where = "" if filed == MODEL_FILENAME else f" (filed as {filed.rsplit('/', 1)[-1]})"
        return f"function {str.__str__(code.co_name)}{where}"
    return f"class {class_name(obj)}"


def odd_build(model: Any, before: Sequence[object] = ()) -> tuple[str, str] | None:
    """After ``build_model`` returned and its module was dropped: odd names, or model code left alive.

    Parameters
    ----------
    model
        What ``build_model`` returned.
    before
        :func:`model_code_alive` from before the module was loaded.

    Returns
    -------
    tuple of (str, str) or None
        (error, hint), or None when the build left only PyMC's and PyTensor's own objects.
    """
    import pymc as pm

    if type(model) is pm.Model:  # contract_problem says what else it should have been
        named = names_problem(model)
        if named is not None:
            return named
    left = model_code_left(before)
    if left:
        return (
            f"model.py left code behind after build_model returned ({', '.join(left[:3])})",
            "build the model from PyMC's distributions and PyTensor operations only: no CustomDist with Python "
            "functions, no callbacks or classes kept alive, since their code would run inside the harness",
        )
    return None
