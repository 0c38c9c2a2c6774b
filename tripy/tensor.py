"""``tp.Tensor``: a lazily evaluated array that remembers the user's line that made it."""

from __future__ import annotations

from typing import Any

import numpy as np

from tripy import dtypes
from tripy.backend.base import Backend
from tripy.backend.numpy.kernels import cast_array
from tripy.backend.registry import current_backend, get_backend
from tripy.dlpack import export_capsule
from tripy.dtypes import DataType
from tripy.errors import SourceLocation, raise_error, user_location
from tripy.frontend.tensor_operators import TensorOperators
from tripy.printing import format_tensor
from tripy.trace.evaluate import adopt, evaluate_one
from tripy.trace.node import Node
from tripy.trace.primitives import Primitive

_SCALARS = (bool, int, float, np.generic)
#: The tensors of scalar operands made so far, by value, type, dtype, rank and backend (see ``from_data``).
_SCALAR_TENSORS: dict[tuple, Tensor] = {}
_new_tensor = object.__new__


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
        found = dtypes.from_numpy(array.dtype)
        if found is None:
            raise_error(f"`data` of tp.Tensor has an unsupported element type {array.dtype}.")
        dtype = found
    if array.dtype != dtype.numpy:
        array = cast_array(array, dtype)
    return array


class Tensor(TensorOperators):
    """An n-dimensional array of one data type, evaluated when a value is needed.

    ``data`` may be a Python scalar, a nested list, a NumPy array, or any DLPack producer (a PyTorch or
    CuPy tensor, for example). ``dtype`` converts; by default floats become ``float32`` and Python ints
    ``int32``.

    .. code-block:: python

        t = tp.Tensor([[1.0, 2.0], [3.0, 4.0]])
        assert t.shape == (2, 2) and t.dtype == tp.float32
    """

    __slots__ = ("shape", "dtype", "_node", "_value", "_backend", "_where", "__weakref__", "_checked")
    _node: Node | None
    _value: Any
    _backend: Backend | None
    _where: SourceLocation | None
    _checked: bool
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
                assert self._backend is not None
                self._value = self._backend.cast(self._value, dtype)
                self.dtype = dtype
            return
        if backend.name != "numpy" and _on_device(data):
            value = backend.from_dlpack(data)
            self.dtype = dtype or backend.dtype_of(value) or dtypes.float32
            if dtype is not None and str(value.dtype) != str(dtype.numpy):
                value = backend.cast(value, dtype)
            self.shape, self._backend, self._value = tuple(value.shape), backend, value
            return
        array = _host_array(data, dtype)
        self.shape = tuple(array.shape)
        found = dtypes.from_numpy(array.dtype) if dtype is None else dtype
        assert found is not None
        self.dtype = found
        self._backend = backend
        value = backend.from_numpy(array, self.dtype)
        if value is array and (array is data or array.base is not None):
            # Still the caller's memory (their array, or a DLPack view of it): copy it, so that their later
            # writes cannot reach this tensor, which may be evaluated later.
            value = array.copy()
        self._value = value

    # -- construction (the frontend's and the compiler's) ------------------------------------------------------
    @staticmethod
    def from_primitive(prim: Primitive, inputs: tuple[Tensor, ...], where: SourceLocation | None = None) -> Tensor:
        """An unevaluated tensor made by ``prim`` from ``inputs``; its shape and dtype are ``prim``'s inference.

        ``where`` is the user's line to blame for it (by default the caller's, outside tripy).
        """
        t = _new_tensor(Tensor)
        t.shape, t.dtype = prim.infer(inputs)
        t._node = Node(prim, inputs)
        t._value = t._backend = None
        t._checked = False
        t._where = where if where is not None else user_location(2)
        return t

    @staticmethod
    def from_data(data: Any, dtype: DataType | None = None, rank: int = 0) -> Tensor:
        """``tp.Tensor(data, dtype)``, without copying a scalar's way through the general constructor; a
        scalar given a ``dtype`` gets ``rank`` dimensions of size 1."""
        if dtype is not None and isinstance(data, _SCALARS):
            backend = current_backend()
            # Tensors are immutable, so one tensor serves every use of a scalar (the 2 of every `x * 2`).
            # Zeros (whose sign == does not see) and NaNs (unequal to themselves) are made each time.
            key = (type(data), data, dtype, rank, backend)
            cacheable = data == data and data != 0
            if cacheable:
                found = _SCALAR_TENSORS.get(key)
                if found is not None:
                    return found
            shape = (1,) * rank
            array = np.asarray(data, dtype=dtype.numpy).reshape(shape)
            made = Tensor.from_value(backend, backend.from_numpy(array, dtype), dtype, shape)
            if cacheable:
                if len(_SCALAR_TENSORS) >= 4096:
                    _SCALAR_TENSORS.clear()
                _SCALAR_TENSORS[key] = made
            return made
        return Tensor(data, dtype)

    @staticmethod
    def from_value(
        backend: Backend, value: Any, dtype: DataType, shape: tuple[int, ...], where: SourceLocation | None = None
    ) -> Tensor:
        """A tensor holding ``backend``'s existing ``value`` (no copy, no trace)."""
        t = Tensor.__new__(Tensor)
        t.shape, t.dtype, t._node, t._checked = tuple(shape), dtype, None, False
        t._backend, t._value, t._where = backend, value, where
        return t

    # -- properties ------------------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        """Where the value lives: ``cpu:0`` or ``gpu:0``."""
        return (self._backend or current_backend()).device

    @property
    def where(self) -> SourceLocation | None:
        """The user's line of code that made this tensor."""
        return self._where

    @property
    def node(self) -> Node | None:
        """The trace node that makes this tensor, or None once it holds a value."""
        return self._node

    @property
    def backend(self) -> Backend | None:
        """The backend holding this tensor's value (None while it is unevaluated)."""
        return self._backend

    @property
    def value(self) -> Any:
        """The backend's array holding this tensor's value (evaluated first)."""
        self.eval()
        return self._value

    @property
    def checked(self) -> bool:
        """Whether the values were validated as quantization scales (see :func:`tripy.quantize`)."""
        return self._checked

    def mark_checked(self) -> None:
        """Record that the values were validated (they cannot change: tensors are immutable)."""
        self._checked = True

    # -- evaluation ------------------------------------------------------------------------------------------
    def eval(self) -> Tensor:
        """Compute the value now (it is kept; the trace that made it is released). Returns ``self``."""
        if self._node is not None:
            evaluate_one(self, current_backend())
        return self

    def value_on(self, backend: Backend) -> Any:
        """The value as ``backend``'s array (evaluated first; copied when another backend holds it)."""
        self.eval()
        return adopt(self, backend)

    def numpy(self) -> np.ndarray:
        """The value as a NumPy array (a host copy when the tensor lives on the GPU)."""
        self.eval()
        assert self._backend is not None
        return self._backend.to_numpy(self._value, self.dtype)

    def tolist(self) -> Any:
        """The value as nested Python lists (a Python scalar for rank 0)."""
        array = self.numpy()
        if array.dtype.kind not in "biuf":  # bfloat16, float8 and int4 become Python floats and ints
            array = array.astype(np.float32 if self.dtype.is_float else np.int32)
        return array.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __dlpack__(
        self,
        stream: Any = None,
        max_version: tuple[int, int] | None = None,
        dl_device: tuple[int, int] | None = None,
        copy: bool | None = None,
    ) -> Any:
        """DLPack v1 export (see :mod:`tripy.dlpack`): GPU consumers share the memory; a consumer that asks for
        the CPU (``np.from_dlpack(t, device="cpu")``, or NumPy, which names no stream) gets a host copy."""
        return export_capsule(self.value, self.numpy, stream, max_version, dl_device, copy)

    def __dlpack_device__(self) -> tuple[int, int]:
        """``(device type, device id)`` of the value's memory: ``(1, 0)`` on the CPU, ``(2, id)`` on a GPU."""
        kind, index = self.value.__dlpack_device__()
        return int(kind), int(index)

    def __repr__(self) -> str:
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


def _backend_for_device(device: str) -> Backend:
    kind = str(device).split(":")[0]
    if kind == "cpu":
        return get_backend("numpy")
    if kind in ("gpu", "cuda"):
        return get_backend("cuda")
    raise_error(f"Unknown `device` {device!r}: expected 'cpu' or 'gpu'.")
    raise AssertionError  # unreachable: raise_error raises
