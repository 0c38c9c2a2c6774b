"""``tp.plugin``: TensorRT plugins, which need a TensorRT network at run time, and so are not available here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from tripy.errors import raise_error
from tripy.export import public
from tripy.tensor import Tensor


@public
def plugin(name: str, inputs: Sequence[Tensor], output_info: Any = None, **kwargs: Any) -> NoReturn:
    """Would call the TensorRT plugin ``name`` on ``inputs``; here it always raises a :class:`tripy.TripyException`.

    A TensorRT plugin is a layer that only exists inside a TensorRT network that is running. This tripy
    runs every op eagerly on NumPy or CuPy, and uses TensorRT only to build engines of whole functions
    from its own primitives, so it has nowhere to run a plugin. Compose the op from tripy's operations.

    .. code-block:: python

        try:
            tp.plugin("CustomGeluPluginDynamic", [tp.ones((2, 2))], type_id=0)
        except tp.TripyException as exc:
            print(str(exc).splitlines()[0])
    """
    raise_error(
        f"tp.plugin: the TensorRT plugin `name`={name!r} cannot run: plugins need TensorRT running the layer "
        "inside its own network, which this tripy cannot do (it runs ops eagerly on NumPy or CuPy and builds "
        "TensorRT engines only from its own primitives). Compose the operation from tripy ops instead."
    )
