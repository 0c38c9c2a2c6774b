"""``tp.device``: where a tensor's value lives, ``cpu`` (the NumPy backend) or ``gpu`` (the CUDA backend)."""

from __future__ import annotations

from tripy.errors import raise_error
from tripy.export import public

_KINDS = ("cpu", "gpu")


@public
class device:  # noqa: N801 - nvtripy's name
    """A device: ``tp.device("cpu")``, ``tp.device("gpu")`` or ``tp.device("gpu:0")``.

    Pass it to :func:`tripy.copy` (or as ``tp.Tensor(..., device=...)``). ``cpu`` values are NumPy arrays;
    ``gpu`` values are CuPy arrays of the ``cuda`` backend.

    .. code-block:: python

        gpu = tp.device("gpu:0")
        assert (gpu.kind, gpu.index) == ("gpu", 0) and str(gpu) == "gpu:0"
        assert tp.device("cpu") == tp.device("cpu:0")
    """

    __slots__ = ("kind", "index")

    def __init__(self, device: str) -> None:
        if not isinstance(device, str):
            raise_error(f"tp.device: `device` must be a string such as 'gpu' or 'cpu:0', not {device!r}.")
        kind, _, index = device.strip().lower().partition(":")
        if kind not in _KINDS:
            raise_error(f"tp.device: `device` {device!r} names an unknown kind {kind!r}: expected 'cpu' or 'gpu'.")
        if index and not index.isdigit():
            raise_error(f"tp.device: `device` {device!r} has an index {index!r} that is not a number.")
        number = int(index or 0)
        if number != 0:
            raise_error(f"tp.device: `device` {device!r}: this tripy uses one device of each kind, index 0.")
        #: ``"cpu"`` or ``"gpu"``.
        self.kind = kind
        #: The device's number (always 0 here).
        self.index = number

    def __str__(self) -> str:
        return f"{self.kind}:{self.index}"

    def __repr__(self) -> str:
        return f"device(kind={self.kind!r}, index={self.index})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device) and (self.kind, self.index) == (other.kind, other.index)

    def __hash__(self) -> int:
        return hash((self.kind, self.index))
