"""``tp.Sequential``: modules applied one after another."""

from __future__ import annotations

from typing import Any

from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.modules.module import Module


@public
class Sequential(Module):
    """Calls its modules in order, each on the previous one's output. Takes modules, or one dict of them
    (whose keys name them in ``state_dict``).

    .. code-block:: python

        model = tp.Sequential(tp.Linear(3, 2), tp.Linear(2, 1))
        assert model(tp.ones((1, 3))).shape == (1, 1)
        assert "1.weight" in model.state_dict()
    """

    def __init__(self, *modules: Module | dict[str, Module]) -> None:
        if len(modules) == 1 and isinstance(modules[0], dict):
            items = dict(modules[0])
        else:
            items = {str(i): m for i, m in enumerate(modules)}
        for name, m in items.items():
            if not isinstance(m, Module):
                raise_error(f"Sequential: entry {name!r} is a {type(m).__name__}, not a tp.Module.")
        self.modules = items

    def _children(self):
        yield from self.modules.items()

    def _child(self, name: str) -> Any:
        return self.modules.get(name)

    def __getitem__(self, key: int | str) -> Module:
        return list(self.modules.values())[key] if isinstance(key, int) else self.modules[key]

    def __len__(self) -> int:
        return len(self.modules)

    def forward(self, x: Any) -> Any:
        for m in self.modules.values():
            x = m(x)
        return x

    def __repr__(self) -> str:
        body = ",\n".join(f"{k}: {m!r}" for k, m in self.modules.items()).replace("\n", "\n    ")
        return f"Sequential(\n    {body},\n)"
