"""``tp.Sequential``: modules applied one after another."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.module import Module


@public
class Sequential(Module):
    """Calls its modules in order, each on the previous one's output. Takes modules or plain callables (such
    as ``tp.relu``), or one dict of them (whose keys name them in ``state_dict``).

    .. code-block:: python

        model = tp.Sequential(tp.Linear(3, 2), tp.relu, tp.Linear(2, 1))
        assert model(tp.ones((1, 3))).shape == (1, 1)
        assert "2.weight" in model.state_dict()
    """

    def __init__(self, *modules: Module | Callable[..., Any] | dict[str, Module | Callable[..., Any]]) -> None:
        items: dict[str, Any]
        if len(modules) == 1 and isinstance(modules[0], dict):
            items = dict(modules[0])
        else:
            items = {str(i): m for i, m in enumerate(modules)}
        for name, m in items.items():
            if not callable(m):
                raise_error(f"Sequential: entry {name!r} is a {type(m).__name__}, not a tp.Module or a callable.")
        self.modules = items

    def _children(self):
        yield from ((name, m) for name, m in self.modules.items() if isinstance(m, Module))

    def _child(self, name: str) -> Any:
        return self.modules.get(name)

    def __getitem__(self, key: int | str) -> Module | Callable[..., Any]:
        return list(self.modules.values())[key] if isinstance(key, int) else self.modules[key]

    def __len__(self) -> int:
        return len(self.modules)

    def forward(self, x: Any) -> Any:
        for m in self.modules.values():
            x = m(x)
        return x

    def __repr__(self) -> str:
        def show(m: Any) -> str:
            return repr(m) if isinstance(m, Module) else getattr(m, "__qualname__", None) or repr(m)

        body = ",\n".join(f"{k}: {show(m)}" for k, m in self.modules.items()).replace("\n", "\n    ")
        return f"Sequential(\n    {body},\n)"
