"""How each tripy data type is held in a CuPy array, and the element kernels that convert between them.

CuPy has no bfloat16, float8 or int4, so their values live in raw containers whose CuPy dtype is used
for no other tripy type: bfloat16 as ``uint16`` bit patterns, float8 (e4m3) as ``uint8`` bit patterns and
int4 as one ``int16`` per element (values -8..7). The conversions round exactly as ``ml_dtypes`` does on
the host: to nearest even, float8 without saturation (NaN past 464) except where quantization saturates.
"""

from __future__ import annotations

import cupy
import ml_dtypes
import numpy as np

from tripy import dtypes
from tripy.dtypes import DataType

#: The CuPy dtype that holds each type whose NumPy dtype CuPy lacks.
CONTAINERS: dict[DataType, np.dtype] = {
    dtypes.bfloat16: np.dtype(np.uint16),
    dtypes.float8: np.dtype(np.uint8),
    dtypes.int4: np.dtype(np.int16),
}
_BY_CONTAINER = {container: dt for dt, container in CONTAINERS.items()}


def storage_dtype(dtype: DataType) -> np.dtype:
    """The CuPy dtype that holds values of ``dtype``."""
    return CONTAINERS.get(dtype, dtype.numpy)


def logical_dtype(array: cupy.ndarray) -> DataType:
    """The tripy type of a CuPy array held by this backend."""
    found = _BY_CONTAINER.get(array.dtype) or dtypes.from_numpy(array.dtype)
    if found is None:
        raise TypeError(f"no tripy type holds CuPy arrays of {array.dtype}")
    return found


def host_to_storage(array: np.ndarray, dtype: DataType) -> np.ndarray:
    """A host array of ``dtype.numpy`` as its container (a view where the bits are kept)."""
    if dtype is dtypes.int4:
        return array.astype(np.int16)
    container = CONTAINERS.get(dtype)
    return array.view(container) if container is not None else array


def storage_to_host(array: np.ndarray, dtype: DataType) -> np.ndarray:
    """A host copy of a container, as ``dtype.numpy``."""
    if dtype is dtypes.int4:
        return array.astype(ml_dtypes.int4)
    if dtype in CONTAINERS:
        return array.view(dtype.numpy)
    return array


#: Device functions shared by every kernel of the backend: decoding any container to float and encoding
#: float back to float16, bfloat16 and float8 bit patterns.
DEVICE_FUNCTIONS = r"""
__device__ __forceinline__ float tp_bf16_to_f32(unsigned short v) {
    return __uint_as_float(((unsigned int)v) << 16);
}
__device__ __forceinline__ unsigned short tp_f32_to_bf16(float f) {
    unsigned int b = __float_as_uint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((b >> 16) | 0x40u);
    return (unsigned short)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}
__device__ __forceinline__ float tp_e4m3_to_f32(unsigned char v) {
    unsigned int sign = ((unsigned int)(v & 0x80u)) << 24;
    unsigned int e = (v >> 3) & 0xfu, m = v & 7u;
    if (e == 15u && m == 7u) return __uint_as_float(sign | 0x7fc00000u);
    float mag = e == 0u ? (float)m * 0.001953125f : __uint_as_float(((e + 120u) << 23) | (m << 20));
    return __uint_as_float(__float_as_uint(mag) | sign);
}
__device__ __forceinline__ unsigned char tp_f32_to_e4m3(float f, bool saturate) {
    unsigned int b = __float_as_uint(f);
    unsigned char sign = (unsigned char)((b >> 24) & 0x80u);
    unsigned int a = b & 0x7fffffffu;
    if (a > 0x7f800000u || (a == 0x7f800000u && !saturate)) return sign | 0x7fu;
    float ax = __uint_as_float(a);
    if (saturate) ax = fminf(ax, 448.0f);
    if (ax < 0.015625f) return sign | (unsigned char)rintf(ax * 512.0f);
    a = __float_as_uint(ax);
    unsigned int r = ((a + 0x7ffffu + ((a >> 20) & 1u)) >> 20) - (120u << 3);
    if (r > 0x7eu) r = 0x7fu;  /* past the largest finite value: NaN, as ml_dtypes gives */
    return sign | (unsigned char)r;
}
__device__ __forceinline__ short tp_wrap_int4(long long v) { return (short)((((int)v & 0xf) ^ 8) - 8); }
/* IEEE arithmetic that keeps subnormals: CuPy compiles with -ftz=true, which flushes them in C arithmetic,
   while the NumPy reference keeps them (a bfloat16 input or a scale can be subnormal). */
__device__ __forceinline__ float tp_div_rn(float a, float b) {
    float c;
    asm("div.rn.f32 %0, %1, %2;" : "=f"(c) : "f"(a), "f"(b));
    return c;
}
__device__ __forceinline__ float tp_mul_rn(float a, float b) {
    float c;
    asm("mul.rn.f32 %0, %1, %2;" : "=f"(c) : "f"(a), "f"(b));
    return c;
}
__device__ __forceinline__ float tp_fma_rn(float a, float b, float c) {
    float d;
    asm("fma.rn.f32 %0, %1, %2, %3;" : "=f"(d) : "f"(a), "f"(b), "f"(c));
    return d;
}
"""

#: Overloads for CuPy's element kernels. CuPy's ``float16`` class is complete only in kernels that use it,
#: so it is reached through templates, instantiated where the kernel's types are known.
_ELEMENT_PREAMBLE = (
    DEVICE_FUNCTIONS
    + r"""
template <typename T> __device__ __forceinline__ float tp_f32(T v) { return (float)v; }
__device__ __forceinline__ float tp_f32(unsigned short v) { return tp_bf16_to_f32(v); }
__device__ __forceinline__ float tp_f32(unsigned char v) { return tp_e4m3_to_f32(v); }
__device__ __forceinline__ float tp_f32(bool v) { return v ? 1.0f : 0.0f; }
template <typename T> __device__ __forceinline__ T tp_from_f32(float v) { return T(v); }
template <> __device__ __forceinline__ unsigned short tp_from_f32<unsigned short>(float v) {
    return tp_f32_to_bf16(v);
}
"""
)


def _kernel(in_params: str, out_params: str, body: str, name: str) -> cupy.ElementwiseKernel:
    return cupy.ElementwiseKernel(in_params, out_params, body, f"tripy_{name}", preamble=_ELEMENT_PREAMBLE)


to_float32 = _kernel("X x", "float32 y", "y = tp_f32(x)", "to_float32")
float_to_bf16 = _kernel("X x", "uint16 y", "y = tp_f32_to_bf16(tp_f32(x))", "to_bf16")
float_to_fp8 = _kernel("X x", "uint8 y", "y = tp_f32_to_e4m3(tp_f32(x), false)", "to_fp8")
float_to_fp8_saturating = _kernel("X x", "uint8 y", "y = tp_f32_to_e4m3(tp_f32(x), true)", "to_fp8_sat")
wrap_to_int4 = _kernel("X x", "int16 y", "y = tp_wrap_int4((long long)x)", "wrap_int4")

# quantize: clamp(round_half_to_even(x / s)); the division is IEEE float32, subnormals kept, as on the host.
# NaN quantizes to 0, as in the reference.
quantize_int8 = _kernel(
    "X x, float32 s",
    "int8 q",
    "float r = rintf(tp_div_rn(tp_f32(x), s)); q = r != r ? 0 : (signed char)fminf(fmaxf(r, -128.0f), 127.0f)",
    "quantize_int8",
)
quantize_int4 = _kernel(
    "X x, float32 s",
    "int16 q",
    "float r = rintf(tp_div_rn(tp_f32(x), s)); q = r != r ? 0 : (short)fminf(fmaxf(r, -8.0f), 7.0f)",
    "quantize_int4",
)
quantize_fp8 = _kernel("X x, float32 s", "uint8 q", "q = tp_f32_to_e4m3(tp_div_rn(tp_f32(x), s), true)", "quantize_fp8")
# dequantize: q * s in float32, rounded once to the output type Y.
dequantize = _kernel("Q q, float32 s", "Y y", "y = tp_from_f32<Y>(tp_mul_rn(tp_f32(q), s))", "dequantize")
