"""Choose and format the variables shown under "Local Variables"."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from doc_runner.result import LocalVariable


def is_library_object(value: Any, packages: Iterable[str]) -> bool:
    """Whether ``value``'s class comes from one of ``packages`` (e.g. tripy's tensors, modules, dtypes)."""
    if isinstance(value, types.ModuleType | types.FunctionType | types.BuiltinFunctionType):
        return False
    top = (getattr(type(value), "__module__", "") or "").split(".")[0]
    return top in set(packages)


def is_library_module(value: Any, packages: Iterable[str]) -> bool:
    """Whether ``value`` is a library *module* (a ``tripy.Module``): it has a ``state_dict``."""
    packages = set(packages)
    return any(
        cls.__name__ == "Module" and (cls.__module__ or "").split(".")[0] in packages for cls in type(value).__mro__
    ) and callable(getattr(value, "state_dict", None))


def changed_names(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Names the block created or rebound to another object, in namespace order."""
    return [
        name
        for name, value in after.items()
        if not name.startswith("_") and (name not in before or before[name] is not value)
    ]


def _indent_continuation(text: str, prefix: str = "    ") -> str:
    return text.replace("\n", "\n" + prefix)


def format_state_dict(state: Mapping[str, Any]) -> str:
    """A state dict, one key per line, values' continuation lines indented under it."""
    if not state:
        return "{}"
    items = [f"    {key!r}: {_indent_continuation(repr(value))}," for key, value in state.items()]
    return "{\n" + "\n".join(items) + "\n}"


def format_variable(
    name: str, value: Any, packages: Iterable[str], bundle: Callable[[Any], dict[str, Any]] | None = None
) -> LocalVariable:
    """``>>> name`` and the value's printout; ``bundle`` (IPython's formatters, in a worker) gives its MIME
    bundle, whose ``text/plain`` is the printout and whose other types (a DataFrame's HTML) the page may show.

    A library module adds ``>>> name.state_dict()`` and the mapping.
    """
    data = bundle(value) if bundle is not None else {"text/plain": repr(value)}
    text = f">>> {name}\n{data.get('text/plain', repr(value))}"
    if is_library_module(value, packages):
        text += f"\n\n>>> {name}.state_dict()\n{format_state_dict(value.state_dict())}"
        data = {}
    return LocalVariable(name, text, {k: v for k, v in data.items() if k != "text/plain"})
