"""``tp.Module``: parameters and child modules found by attribute, ``state_dict`` and a tree printout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.parameter import Parameter


class LoadResult(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


@public
class Module:
    """Base class of layers and models. Assign :class:`Parameter` s and modules (or lists and dicts of
    modules) as attributes and they are found by :meth:`state_dict` and :meth:`named_parameters`;
    implement ``forward`` and call the module. Subclasses need not call ``super().__init__()``.

    .. code-block:: python

        class Scale(tp.Module):
            def __init__(self):
                self.factor = tp.Parameter(2.0)

            def forward(self, x):
                return x * self.factor

        assert Scale()(tp.ones((2,))).tolist() == [2.0, 2.0]
        assert list(Scale().state_dict()) == ["factor"]
    """

    def _is_parameter_slot(self, name: str) -> bool:
        """Whether attribute ``name`` holds a parameter, or is a declared parameter that is still unset."""
        current = self.__dict__.get(name, ...)
        return isinstance(current, Parameter) or (current is None and name in self._optional_parameters())

    def __setattr__(self, name: str, value: Any) -> None:
        if value is not None and not isinstance(value, (Parameter, Module)) and self._is_parameter_slot(name):
            # A parameter slot stays a parameter: tensors, arrays, lists and scalars assigned to it convert.
            value = Parameter(value)
        object.__setattr__(self, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise_error(f"{type(self).__name__} does not implement `forward`.")

    # -- traversal -----------------------------------------------------------------------------------
    def _children(self) -> Iterator[tuple[str, Any]]:
        """Direct parameters (or declared-but-unset ``None`` slots), modules, and lists/dicts of modules."""
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for i, v in enumerate(value):
                    yield f"{name}.{i}", v
            elif isinstance(value, dict) and value and all(isinstance(v, Module) for v in value.values()):
                for k, v in value.items():
                    yield f"{name}.{k}", v

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The modules directly below this one with their names (``"0"``, ``"blocks.1"``), not their children.

        .. code-block:: python

            model = tp.Sequential(tp.Linear(2, 2), tp.Sequential(tp.Linear(2, 1)))
            assert [name for name, _ in model.named_children()] == ["0", "1"]
        """
        for name, child in self._children():
            if isinstance(child, Module):
                yield name, child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every module below it, with dotted names as in PyTorch
        (``""``, ``"h.0"``, ``"h.0.attn"``).

        .. code-block:: python

            model = tp.Sequential(tp.Linear(2, 2), tp.Sequential(tp.Linear(2, 1)))
            assert [name for name, _ in model.named_modules()] == ["", "0", "1", "1.0"]
        """
        yield prefix, self
        for name, child in self._children():
            if isinstance(child, Module):
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter below this module with its dotted name (``h.0.attn.c_attn.weight``)."""
        for prefix, module in self.named_modules():
            for name, child in module._children():
                if isinstance(child, Parameter):
                    yield (f"{prefix}.{name}" if prefix else name), child

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def state_dict(self) -> dict[str, Parameter]:
        """A flat mapping of dotted names to parameters, as in PyTorch.

        .. code-block:: python

            linear = tp.Linear(2, 1)
            assert list(linear.state_dict()) == ["weight", "bias"]
        """
        return dict(self.named_parameters())

    def _owner(self, key: str) -> tuple[Module | None, str]:
        """The module holding ``key``'s last component, or None if the path leads nowhere."""
        module: Any = self
        *path, leaf = key.split(".")
        for part in path:
            if isinstance(module, Module):
                module = module._child(part)
            elif isinstance(module, (list, tuple)) and part.isdigit() and int(part) < len(module):
                module = module[int(part)]
            elif isinstance(module, dict):
                module = module.get(part)
            else:
                return None, leaf
        return (module, leaf) if isinstance(module, Module) else (None, leaf)

    def _child(self, name: str) -> Any:
        """The attribute (module, list or dict of modules) called ``name``, for dotted-name lookups."""
        return vars(self).get(name)

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> LoadResult:
        """Set parameters from ``state_dict`` (values: tensors, NumPy arrays, PyTorch tensors...).

        Shapes must match the existing parameters; values take the parameter's dtype. Keys for declared
        but unset parameters (such as a quantized Linear's ``weight_scale``) are accepted. With ``strict``
        a missing or unexpected key is an error; otherwise they are returned.
        """
        own = self.state_dict()
        unexpected, updates = [], []
        for key, value in state_dict.items():
            module, leaf = self._owner(key)
            if module is None or leaf.startswith("_") or not module._is_parameter_slot(leaf):
                unexpected.append(key)
                continue
            current = vars(module)[leaf]
            shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
            if current is not None and shape != current.shape:
                raise_error(
                    f"load_state_dict: `{key}` has shape {shape} in the state dict but {current.shape} in "
                    f"{type(self).__name__}."
                )
            updates.append((module, leaf, value, current))
        missing = [k for k in own if k not in state_dict]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected keys: {', '.join(unexpected)}")
            raise_error(f"load_state_dict: the state dict does not match {type(self).__name__} ({'; '.join(parts)}).")
        for module, leaf, value, current in updates:
            dtype = current.dtype if current is not None else None
            object.__setattr__(module, leaf, Parameter(value, dtype))
        return LoadResult(missing, unexpected)

    # -- printing ------------------------------------------------------------------------------------
    def _settings(self) -> dict[str, Any]:
        """Constructor settings shown in the printout (layers override this)."""
        return {}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self._settings().items())
        lines = [settings] if settings else []
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(value, Parameter):
                lines.append(f"{name}: Parameter = (shape={value.shape}, dtype={value.dtype})")
            elif value is None and name in self._optional_parameters():
                lines.append(f"{name}: Parameter = None")
            elif isinstance(value, Module):
                lines.append(f"{name}: {value!r}")
            elif (
                isinstance(value, (list, tuple, dict))
                and value
                and all(isinstance(v, Module) for v in (value.values() if isinstance(value, dict) else value))
            ):
                items = value.items() if isinstance(value, dict) else enumerate(value)
                inner = [f"{k}: {v!r}" for k, v in items]
                body = ",\n".join(inner).replace("\n", "\n    ")
                open_, close = ("{", "}") if isinstance(value, dict) else ("[", "]")
                lines.append(f"{name}: {open_}\n    {body}\n{close}")
        if not lines:
            return f"{type(self).__name__}()"
        body = ",\n".join(lines).replace("\n", "\n    ")
        return f"{type(self).__name__}(\n    {body},\n)"

    def _optional_parameters(self) -> tuple[str, ...]:
        """Names of parameters that may be unset (None), shown as such in the printout."""
        return ()
