"""``tp.Tensor``: a lazily evaluated array that remembers the user's line that made it."""

from __future__ import annotations

from typing import Any

import numpy as np

from tripy import dtypes
from tripy.backend import current_backend, get_backend
from tripy.dtypes import DataType
from tripy.errors import SourceLocation, raise_error, user_location
from tripy.trace import Node


def _host_array(data: Any, dtype: DataType | None) -> np.ndarray:
    """Turn Python scalars, nested lists, NumPy arrays or host DLPack producers into a NumPy array."""
    if isinstance(data, np.ndarray):
        array = data
    elif hasattr(data, "__dlpack__") and not isinstance(data, (list, tuple)):
        if hasattr(data, "detach"):  # a PyTorch tensor that may require grad
            data = data.detach()
        try:
            array = np.from_dlpack(data)
        except (RuntimeError, BufferError, TypeError):
            array = np.array(data.cpu() if hasattr(data, "cpu") else data)
    else:
        try:
            array = np.array(data)
        except ValueError as exc:
            raise_error(f"`data` of tp.Tensor is not a rectangular nested list of numbers: {exc}")
        if array.dtype == np.float64 and dtype is None:
            array = array.astype(np.float32)
        elif array.dtype == np.int64 and dtype is None:
            if array.size and not (-(2**31) <= array.min() and array.max() < 2**31):
                raise_error(
                    "`data` of tp.Tensor holds Python ints beyond the int32 range, and Python ints become "
                    "int32: pass dtype=tp.int64."
                )
            array = array.astype(np.int32)  # Python ints become int32, as in Tripy
    if dtype is None:
        dtype = dtypes.from_numpy(array.dtype)
        if dtype is None:
            raise_error(f"`data` of tp.Tensor has an unsupported element type {array.dtype}.")
    if array.dtype != dtype.numpy:
        array = get_backend("numpy").cast(array, dtype=dtype)
    return array


class Tensor:
    """An n-dimensional array of one data type, evaluated when a value is needed.

    ``data`` may be a Python scalar, a nested list, a NumPy array, or any DLPack producer (a PyTorch or
    CuPy tensor, for example). ``dtype`` converts; by default floats become ``float32`` and Python ints
    ``int32``.

    .. code-block:: python

        t = tp.Tensor([[1.0, 2.0], [3.0, 4.0]])
        assert t.shape == (2, 2) and t.dtype == tp.float32
    """

    __slots__ = ("shape", "dtype", "_node", "_value", "_backend", "_where", "__weakref__", "_checked")
    __array_priority__ = 1000  # so ``ndarray + tensor`` defers to Tensor.__radd__

    def __init__(self, data: Any, dtype: DataType | None = None, device: str | None = None) -> None:
        if dtype is not None and not isinstance(dtype, DataType):
            raise_error(f"`dtype` of tp.Tensor must be a tripy data type such as tp.float32, not {dtype!r}.")
        backend = current_backend() if device is None else _backend_for_device(device)
        self._where = user_location(2)
        self._node = None
        self._checked = False
        if isinstance(data, Tensor):
            data.eval()
            self.shape, self.dtype = data.shape, data.dtype
            self._backend, self._value = data._backend, data._value
            if dtype is not None and dtype != data.dtype:
                self._value = self._backend.cast(self._value, dtype=dtype)
                self.dtype = dtype
            return
        if backend.name != "numpy" and _on_device(data):
            value = backend.from_dlpack(data)
            self.dtype = dtype or backend.dtype_of(value) or dtypes.float32
            if dtype is not None and str(value.dtype) != str(dtype.numpy):
                value = backend.cast(value, dtype=dtype)
            self.shape, self._backend, self._value = tuple(value.shape), backend, value
            return
        array = _host_array(data, dtype)
        self.shape = tuple(array.shape)
        self.dtype = dtypes.from_numpy(array.dtype) if dtype is None else dtype
        self._backend = backend
        value = backend.from_numpy(array, self.dtype)
        if value is array and (array is data or array.base is not None):
            # Still the caller's memory (their array, or a DLPack view of it): copy it, so that their later
            # writes cannot reach this tensor, which may be evaluated later.
            value = array.copy()
        self._value = value

    # -- construction from a trace ------------------------------------------------------------------
    @staticmethod
    def _from_node(
        prim: str,
        inputs: tuple[Tensor, ...],
        attrs: dict,
        shape: tuple[int, ...],
        dtype: DataType,
        where: SourceLocation | None = None,
    ) -> Tensor:
        t = Tensor.__new__(Tensor)
        t.shape, t.dtype = shape, dtype
        t._node, t._value, t._backend, t._checked = Node(prim, inputs, attrs), None, None, False
        t._where = where if where is not None else user_location(2)
        return t

    @staticmethod
    def _from_value(
        backend, value: Any, shape: tuple[int, ...], dtype: DataType, where: SourceLocation | None = None
    ) -> Tensor:
        """A tensor holding an existing backend value (no copy, no trace)."""
        t = Tensor.__new__(Tensor)
        t.shape, t.dtype, t._node, t._checked = tuple(shape), dtype, None, False
        t._backend, t._value, t._where = backend, value, where
        return t

    # -- properties ---------------------------------------------------------------------------------
    @property
    def rank(self) -> int:
        """The number of dimensions."""
        return len(self.shape)

    @property
    def device(self) -> str:
        """Where the value lives: ``cpu:0`` or ``gpu:0``."""
        return (self._backend or current_backend()).device

    @property
    def where(self) -> SourceLocation | None:
        """The user's line of code that made this tensor."""
        return self._where

    # -- evaluation ---------------------------------------------------------------------------------
    def eval(self) -> Tensor:
        """Compute the value now (it is kept; the trace that made it is released). Returns ``self``."""
        if self._value is None:
            backend = current_backend()
            node = self._node
            if all(i._value is not None for i in node.inputs):  # one primitive on values: no graph walk
                args = [backend.adopt(i) for i in node.inputs]
                self._value = backend.run(self, args)
            else:
                (self._value,) = backend.evaluate([self])
            self._backend = backend
            self._node = None
        return self

    def numpy(self) -> np.ndarray:
        """The value as a NumPy array (a host copy when the tensor lives on the GPU)."""
        self.eval()
        return self._backend.to_numpy(self._value, self.dtype)

    def tolist(self) -> Any:
        """The value as nested Python lists (a Python scalar for rank 0)."""
        array = self.numpy()
        if array.dtype.kind not in "biuf":  # bfloat16, float8 and int4 become Python floats and ints
            array = array.astype(np.float32 if self.dtype.is_float else np.int32)
        return array.tolist()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __dlpack__(self, *args, **kwargs):
        self.eval()
        return self._value.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        self.eval()
        return self._value.__dlpack_device__()

    def __repr__(self) -> str:
        from tripy.printing import format_tensor

        return format_tensor(self.numpy(), self.dtype, self.device, self.shape)

    def __bool__(self) -> bool:
        if int(np.prod(self.shape)) != 1:
            raise_error(f"The truth value of a tensor of shape {self.shape} is ambiguous: use tp.all/tp.any.")
        return bool(self.numpy().reshape(()))

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def _scalar(self, kind: str) -> np.ndarray:
        if int(np.prod(self.shape)) != 1:
            raise_error(f"{kind}() needs a tensor of one element, but this one has shape {self.shape}.")
        value = self.numpy().reshape(())
        return value.astype(np.float32 if self.dtype.is_float else np.int64) if value.dtype.kind == "V" else value

    def __len__(self) -> int:
        if not self.shape:
            raise_error("len() of a rank-0 tensor.")
        return self.shape[0]

    __hash__ = object.__hash__


def _on_device(data: Any) -> bool:
    dev = getattr(data, "__dlpack_device__", None)
    return dev is not None and dev()[0] != 1  # 1 is kDLCPU


def _backend_for_device(device: str):
    kind = str(device).split(":")[0]
    if kind == "cpu":
        return get_backend("numpy")
    if kind in ("gpu", "cuda"):
        return get_backend("cuda")
    raise_error(f"Unknown `device` {device!r}: expected 'cpu' or 'gpu'.")


def constant_like(value: Any, like: Tensor) -> Tensor:
    """``value`` as a tensor of ``like``'s dtype (Python scalars in binary ops take the tensor's type)."""
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value, dtype=like.dtype.numpy) if not isinstance(value, np.ndarray) else value
    dtype = like.dtype if not isinstance(value, np.ndarray) else dtypes.from_numpy(array.dtype)
    backend = current_backend()
    return Tensor._from_value(backend, backend.from_numpy(array, dtype), array.shape, dtype)
