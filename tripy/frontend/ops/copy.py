"""``tp.copy``: a tensor's value moved to another device (between the NumPy and CUDA backends)."""

from __future__ import annotations

from tripy.backend.cuda.availability import unusable_reason
from tripy.backend.registry import get_backend
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.device import device as Device
from tripy.tensor import Tensor


@public
def copy(input: Tensor, device: Device) -> Tensor:
    """``input``'s value on ``device``: ``tp.device("cpu")`` (a NumPy array) or ``tp.device("gpu")`` (CuPy).

    The value is computed first. Copying to the device it is already on returns a tensor sharing it
    (tensors never change, so nothing can tell).

    .. code-block:: python

        on_cpu = tp.copy(tp.ones((2,)) * 3.0, tp.device("cpu"))
        assert on_cpu.device == "cpu:0"
        assert np.from_dlpack(on_cpu).tolist() == [3.0, 3.0]
    """
    if not isinstance(input, Tensor):
        raise_error(f"tp.copy: `input` must be a tp.Tensor, not {type(input).__name__}.")
    if isinstance(device, str):
        device = Device(device)
    if not isinstance(device, Device):
        raise_error(f"tp.copy: `device` must be a tp.device such as tp.device('cpu'), not {device!r}.")
    if device.kind == "gpu":
        reason = unusable_reason()
        if reason is not None:
            raise_error(f"tp.copy: `device` is {device}, but no GPU is usable here: {reason}.")
    backend = get_backend("numpy" if device.kind == "cpu" else "cuda")
    value = input.value_on(backend)
    return Tensor.from_value(backend, value, input.dtype, input.shape, input.where)
