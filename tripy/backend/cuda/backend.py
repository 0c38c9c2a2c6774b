"""The ``cuda`` backend: every primitive on CuPy arrays on the GPU, with the NumPy backend's semantics.

Values are CuPy arrays; bfloat16, float8 and int4 live in raw containers (:mod:`.storage`). Work on
float16, bfloat16 and float8 runs in float32 and is rounded once to the result type, small integers run
in int32 and wrap back, as the reference does. :meth:`CudaBackend.evaluate` runs quantized matrix
products as int8 GEMMs on tensor cores (:mod:`.int8_linear`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tripy import dtypes
from tripy.backend.numpy.backend import NumpyBackend
from tripy.dtypes import DataType
from tripy.errors import raise_error

try:
    import cupy

    from tripy.backend.cuda import storage
    from tripy.backend.cuda.storage import logical_dtype, storage_dtype

    _IMPORT_ERROR: Exception | None = None
except Exception as exc:  # CuPy missing or without its CUDA libraries
    cupy = None
    _IMPORT_ERROR = exc

_FLOAT_CONTAINERS = (dtypes.bfloat16, dtypes.float8)
_SMALL_INT = (dtypes.int8, dtypes.int4)


def _unusable_reason() -> str | None:
    """Why the GPU cannot be used, or None when it can."""
    if cupy is None:
        return f"CuPy could not be imported ({_IMPORT_ERROR})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CUDA reports no usable device ({exc})"
    if count == 0:
        return "CUDA reports no device"
    try:
        from cupy_backends.cuda.libs import cublas  # noqa: F401 - the int8 path needs cuBLAS
    except Exception as exc:
        return f"cuBLAS could not be loaded ({exc})"
    return None


class CudaBackend(NumpyBackend):
    """Evaluates traces on the GPU with CuPy (``loc=gpu:0``)."""

    name = "cuda"
    device = "gpu:0"

    def device_description(self) -> str:
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else str(name)

    def __init__(self) -> None:
        reason = _unusable_reason()
        if reason is not None:
            raise_error(
                f"The 'cuda' backend was requested (tp.config.backend or TRIPY_BACKEND), but no GPU is usable: "
                f"{reason}. Use tp.config.backend = 'numpy' (or 'auto') on a machine without an NVIDIA GPU."
            )
        self.xp = cupy
        self._scalars: dict[tuple, Any] = {}
        from tripy.backend.cuda.int8_linear import Int8Linear

        self.int8 = Int8Linear(self)

    # -- values --------------------------------------------------------------------------------------
    def from_numpy(self, array: np.ndarray, dtype: DataType) -> Any:
        host = storage.host_to_storage(np.asarray(array, dtype=dtype.numpy), dtype)
        if host.ndim == 0:
            # Scalars (the Python numbers of ``x * 2 + 1``) are kept on the device and shared: tripy never
            # writes into a value, so a cached one saves a kernel launch (or a synchronous copy) per use.
            key = (host.dtype.str, host.tobytes())
            value = self._scalars.get(key)
            if value is None:
                if len(self._scalars) >= 4096:
                    self._scalars.clear()
                value = self._scalars[key] = cupy.full((), host[()], dtype=host.dtype)
            return value
        if host.size == 1:  # a fill kernel is queued; a copy from pageable memory would wait for it
            return cupy.full(host.shape, host.reshape(-1)[0], dtype=host.dtype)
        # One copy on the current stream (cupy.asarray stages small arrays through pinned memory, slower).
        out = cupy.empty(host.shape, dtype=host.dtype)
        out.set(np.ascontiguousarray(host), stream=cupy.cuda.get_current_stream())
        return out

    def to_numpy(self, value: Any, dtype: DataType) -> np.ndarray:
        return storage.storage_to_host(cupy.asnumpy(value), dtype)

    def from_dlpack(self, obj: Any) -> Any:
        """A CuPy view of a device DLPack producer; PyTorch's bfloat16 and float8 come in as containers."""
        torch_dtype = str(getattr(obj, "dtype", ""))
        if torch_dtype.startswith("torch.") and hasattr(obj, "view"):
            obj = obj.detach()
            if torch_dtype == "torch.bfloat16":
                import torch

                return cupy.from_dlpack(obj.view(torch.int16)).view(cupy.uint16)
            if torch_dtype == "torch.float8_e4m3fn":
                import torch

                return cupy.from_dlpack(obj.view(torch.uint8))
        return cupy.from_dlpack(obj)

    def dtype_of(self, value: Any) -> DataType:
        """The tripy type of a value of this backend (containers included)."""
        return logical_dtype(value)

    # -- conversion helpers --------------------------------------------------------------------------
    def _widen(self, x):
        """``x`` in its compute type: float32 for 16- and 8-bit floats, int32 for int8/int4, else unchanged."""
        dt = logical_dtype(x)
        if dt in _FLOAT_CONTAINERS:
            return storage.to_float32(x)
        if dt is dtypes.float16:
            return x.astype(np.float32)
        if dt in _SMALL_INT:
            return x.astype(np.int32)
        return x

    def _narrow(self, y, dtype: DataType):
        """A computed array rounded (floats, no saturation) or wrapped (integers) to ``dtype``'s container."""
        if dtype is dtypes.bfloat16:
            return storage.float_to_bf16(y)
        if dtype is dtypes.float8:
            return storage.float_to_fp8(y)
        if dtype is dtypes.int4:
            return storage.wrap_to_int4(y)
        return y.astype(dtype.numpy, copy=False)

    def _compute(self, fn, *xs, half_native: bool = False):
        """``fn`` in the compute type, rounded or wrapped once to the input's type. With ``half_native``,
        float16 runs as is (CuPy's float16 arithmetic already rounds one float32 result)."""
        dt = logical_dtype(xs[0])
        if dt in _FLOAT_CONTAINERS or dt in _SMALL_INT or (dt is dtypes.float16 and not half_native):
            return self._narrow(fn(*(self._widen(x) for x in xs)), dt)
        return fn(*xs)

    # -- primitives ----------------------------------------------------------------------------------
    def unary(self, x, *, op):
        xp = cupy
        if op == "rsqrt":
            return self._compute(lambda v: xp.reciprocal(xp.sqrt(v)), x)
        if op == "erf":
            return self._compute(_erf, x)
        return self._compute(_UNARY[op], x, half_native=op in ("neg", "abs"))

    def binary(self, a, b, *, op):
        if op == "div":
            if logical_dtype(a).is_integer:  # integer division truncates toward zero, as in C and TensorRT
                return self._compute(_trunc_div, a, b)
            return self._compute(cupy.true_divide, a, b, half_native=True)
        fn = _BINARY[op]
        if a.dtype == np.bool_:
            return fn(a, b)
        if op in ("eq", "ne", "lt", "le", "gt", "ge"):
            if a.dtype == np.float16:
                return fn(a, b)
            return fn(self._widen(a), self._widen(b))
        return self._compute(fn, a, b, half_native=op in ("add", "sub", "mul", "max", "min"))

    def where(self, cond, a, b):
        return cupy.where(cond, a, b)

    def reduce(self, x, *, op, axes, keepdim):
        fn = _REDUCE[op]
        return self._compute(lambda v: fn(v, axis=axes, keepdims=keepdim).astype(v.dtype, copy=False), x)

    def argmax(self, x, *, axis, keepdim):
        out = cupy.argmax(self._widen(x), axis=axis)
        if keepdim:
            out = cupy.expand_dims(out, axis)
        return out.astype(np.int32)

    def matmul(self, a, b):
        dt = logical_dtype(a)
        if dt.is_integer:
            if dt is dtypes.int8 and a.ndim == 2:
                # int8 x int8 on tensor cores; int32 wraps like int64 does modulo 2**8.
                return self.int8.gemm(a, b.T).astype(np.int8)
            return self._narrow(cupy.matmul(a.astype(np.int64), b.astype(np.int64)), dt)
        if dt in _FLOAT_CONTAINERS:
            return self._narrow(cupy.matmul(self._widen(a), self._widen(b)), dt)
        return cupy.matmul(a, b)

    def cast(self, x, *, dtype):
        src = logical_dtype(x)
        if src is dtype:
            return x
        target = dtype.numpy
        v = self._widen(x) if src in _FLOAT_CONTAINERS else x
        if src is dtypes.float16 and (dtype.is_quantized or target.kind in "iu" or dtype is dtypes.bfloat16):
            v = v.astype(np.float32)
        if dtype is dtypes.float8:  # saturates to +-448, rounds to nearest even
            return storage.float_to_fp8_saturating(v)
        if dtype is dtypes.bfloat16:
            return storage.float_to_bf16(v if v.dtype.kind == "f" else v.astype(np.float32))
        if dtype in _SMALL_INT:  # float truncates toward zero, then saturates
            lo, hi = dtypes.QUANT_RANGE[dtype]
            if v.dtype.kind == "f":
                v = cupy.nan_to_num(cupy.trunc(v), nan=0.0)  # NaN becomes 0, as in the reference
            elif v.dtype == np.bool_:
                v = v.astype(np.int32)
            return cupy.clip(v, lo, hi).astype(storage_dtype(dtype))
        if target.kind in "iu" and v.dtype.kind == "f":
            v = cupy.nan_to_num(cupy.trunc(v), nan=0.0)
        if src is dtypes.int4 and dtype.is_float:
            v = v.astype(np.float32)
        return v.astype(target)

    def _to_float32(self, scale):
        return scale if scale.dtype == np.float32 else storage.to_float32(scale)

    def quantize(self, x, scale, *, dtype, axis):
        kernel = {
            dtypes.int8: storage.quantize_int8,
            dtypes.int4: storage.quantize_int4,
            dtypes.float8: storage.quantize_fp8,
        }[dtype]
        return kernel(x, self._scale_for(scale, x.shape, axis))

    def dequantize(self, q, scale, *, dtype, axis):
        out = cupy.empty(q.shape, dtype=storage_dtype(dtype))
        return storage.dequantize(q, self._scale_for(scale, q.shape, axis), out)

    # -- evaluation ----------------------------------------------------------------------------------
    def evaluate(self, outputs: list) -> list[Any]:
        """Values of ``outputs``; quantized Linear patterns run as int8 GEMMs (see :mod:`.int8_linear`)."""
        return self.int8.evaluate(outputs)


def _trunc_div(x, y):
    if x.dtype.kind in "iu":
        q = cupy.floor_divide(x, y)
        # floor differs from truncation when the signs differ and the division is inexact
        return q + ((cupy.remainder(x, y) != 0) & ((x < 0) != (y < 0))).astype(q.dtype)
    return cupy.trunc(x / y)


def _erf(v):
    from cupyx.scipy.special import erf

    return erf(v).astype(v.dtype, copy=False)


if cupy is not None:
    _UNARY = {
        "neg": cupy.negative,
        "exp": cupy.exp,
        "log": cupy.log,
        "sqrt": cupy.sqrt,
        "tanh": cupy.tanh,
        "sin": cupy.sin,
        "cos": cupy.cos,
        "abs": cupy.abs,
        "not": cupy.logical_not,
    }
    _BINARY = {
        "add": cupy.add,
        "sub": cupy.subtract,
        "mul": cupy.multiply,
        "pow": cupy.power,
        "max": cupy.maximum,
        "min": cupy.minimum,
        "and": cupy.logical_and,
        "or": cupy.logical_or,
        "eq": cupy.equal,
        "ne": cupy.not_equal,
        "lt": cupy.less,
        "le": cupy.less_equal,
        "gt": cupy.greater,
        "ge": cupy.greater_equal,
        "floor_div": cupy.floor_divide,
        "mod": cupy.mod,
    }
    _REDUCE = {"sum": cupy.sum, "prod": cupy.prod, "max": cupy.max, "min": cupy.min}
