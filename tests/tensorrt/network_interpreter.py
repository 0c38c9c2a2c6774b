"""A NumPy interpreter of TensorRT networks, layer by layer, as TensorRT's operator documentation describes them.

Engines cannot run without a GPU that TensorRT supports, so the tests run the *network* instead: each
layer the lowering added is evaluated here with NumPy, and the result is compared with eager tripy.
This checks the lowering (axes, permutations, shape tensors, broadcasting, where Q/DQ scales apply)
against our reading of TensorRT's layer semantics; it cannot check TensorRT's kernels.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import ml_dtypes
import numpy as np

_NUMPY_TYPES = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "FP8": ml_dtypes.float8_e4m3fn,
    "INT4": ml_dtypes.int4,
    "INT8": np.int8,
    "INT32": np.int32,
    "INT64": np.int64,
    "BOOL": np.bool_,
}
_QUANT_RANGE = {"INT8": (-128, 127), "INT4": (-8, 7), "FP8": (-448.0, 448.0)}
_LAYER_CLASSES = {
    "CONSTANT": "IConstantLayer",
    "QUANTIZE": "IQuantizeLayer",
    "DEQUANTIZE": "IDequantizeLayer",
    "MATRIX_MULTIPLY": "IMatrixMultiplyLayer",
    "ELEMENTWISE": "IElementWiseLayer",
    "UNARY": "IUnaryLayer",
    "ACTIVATION": "IActivationLayer",
    "SHUFFLE": "IShuffleLayer",
    "SLICE": "ISliceLayer",
    "CONCATENATION": "IConcatenationLayer",
    "GATHER": "IGatherLayer",
    "CAST": "ICastLayer",
    "REDUCE": "IReduceLayer",
    "TOPK": "ITopKLayer",
    "SELECT": "ISelectLayer",
    "FILL": "IFillLayer",
    "SHAPE": "IShapeLayer",
    "IDENTITY": "IIdentityLayer",
}


def _name(enum_value) -> str:
    return str(enum_value).rsplit(".", 1)[-1]


def _wide(x: np.ndarray) -> np.ndarray:
    """Low-precision floats and small ints computed in float32 / int32, as tripy's NumPy backend does."""
    if x.dtype in (np.float16, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn):
        return x.astype(np.float32)
    if x.dtype in (np.int8, ml_dtypes.int4):
        return x.astype(np.int32)
    return x


def _scale_like(scale: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """A Q/DQ scale broadcast to ``shape``: scalar, 1-D along ``axis``, or block-wise (same rank)."""
    scale = scale.astype(np.float32)
    if scale.ndim == 0 or scale.size == 1 and scale.ndim <= 1:
        return scale.reshape(())
    if scale.ndim == 1:
        view = [1] * len(shape)
        view[axis] = scale.shape[0]
        return scale.reshape(view)
    for d in range(scale.ndim):
        scale = np.repeat(scale, shape[d] // scale.shape[d], axis=d)
    return scale


def _axes(mask: int, rank: int) -> tuple[int, ...]:
    return tuple(a for a in range(rank) if mask >> a & 1)


class NetworkInterpreter:
    """Evaluates a network's outputs for given inputs; ``constants`` maps constant layer names to values."""

    def __init__(self, trt: ModuleType, network, constants: dict[str, np.ndarray]) -> None:
        self.trt, self.network, self.constants = trt, network, constants
        self.producer: dict[str, tuple[Any, int]] = {}
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            for j in range(layer.num_outputs):
                self.producer[layer.get_output(j).name] = (layer, j)

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.values: dict[str, np.ndarray] = dict(inputs)
        return [self.value(self.network.get_output(i)) for i in range(self.network.num_outputs)]

    def value(self, tensor) -> np.ndarray:
        if tensor.name not in self.values:
            layer, index = self.producer[tensor.name]
            outputs = self.evaluate(layer)
            for j, out in enumerate(outputs):
                expected = _NUMPY_TYPES[_name(layer.get_output(j).dtype)]
                self.values[layer.get_output(j).name] = np.asarray(out).astype(expected, copy=False)
        return self.values[tensor.name]

    def input(self, layer, j: int) -> np.ndarray | None:
        t = layer.get_input(j)
        return None if t is None else self.value(t)

    def evaluate(self, layer) -> list[np.ndarray]:
        kind = _name(layer.type)
        layer.__class__ = getattr(self.trt, _LAYER_CLASSES[kind])
        return getattr(self, "eval_" + kind.lower())(layer)

    # -- layers --------------------------------------------------------------------------------------------
    def eval_constant(self, layer):
        return [self.constants[layer.name].reshape(tuple(layer.shape))]

    def eval_quantize(self, layer):
        x, scale = self.input(layer, 0), self.input(layer, 1)
        kind = _name(layer.get_output(0).dtype)
        scaled = x.astype(np.float32) / _scale_like(scale, x.shape, layer.axis)
        lo, hi = _QUANT_RANGE[kind]
        if kind != "FP8":
            scaled = np.rint(scaled)  # round half to even
        return [np.clip(scaled, lo, hi)]

    def eval_dequantize(self, layer):
        q, scale = self.input(layer, 0), self.input(layer, 1)
        return [q.astype(np.float32) * _scale_like(scale, q.shape, layer.axis)]

    def eval_matrix_multiply(self, layer):
        operands = []
        for j, op in ((0, layer.op0), (1, layer.op1)):
            x = _wide(self.input(layer, j))
            operands.append(np.swapaxes(x, -1, -2) if _name(op) == "TRANSPOSE" else x)
        return [np.matmul(*operands)]

    def eval_elementwise(self, layer):
        a, b = _wide(self.input(layer, 0)), _wide(self.input(layer, 1))
        op = _name(layer.op)
        integer = a.dtype.kind in "iu"
        fn = {
            "SUM": np.add,
            "SUB": np.subtract,
            "PROD": np.multiply,
            "MAX": np.maximum,
            "MIN": np.minimum,
            "POW": np.power,
            "FLOOR_DIV": np.floor_divide,
            "AND": np.logical_and,
            "OR": np.logical_or,
            "XOR": np.logical_xor,
            "EQUAL": np.equal,
            "GREATER": np.greater,
            "LESS": np.less,
            "DIV": (lambda x, y: np.trunc(x / y).astype(x.dtype)) if integer else np.true_divide,
        }[op]
        return [fn(a, b)]

    def eval_unary(self, layer):
        import math

        x = _wide(self.input(layer, 0))
        fn = {
            "EXP": np.exp,
            "LOG": np.log,
            "SQRT": np.sqrt,
            "RECIP": np.reciprocal,
            "ABS": np.abs,
            "NEG": np.negative,
            "SIN": np.sin,
            "COS": np.cos,
            "NOT": np.logical_not,
            "ERF": np.vectorize(math.erf, otypes=[np.float64]),
        }[_name(layer.op)]
        return [fn(x)]

    def eval_activation(self, layer):
        assert _name(layer.type) == "TANH"
        return [np.tanh(_wide(self.input(layer, 0)))]

    def eval_shuffle(self, layer):
        x = self.input(layer, 0)
        x = np.transpose(x, tuple(layer.first_transpose)[: x.ndim])
        shape = self.input(layer, 1)
        if shape is not None:
            x = x.reshape(tuple(int(d) for d in shape))
        elif layer.reshape_dims is not None and len(layer.reshape_dims) >= 0:
            try:
                x = x.reshape(tuple(layer.reshape_dims))
            except ValueError:  # reshape_dims unset: TensorRT reports the input's dimensions
                pass
        return [np.transpose(x, tuple(layer.second_transpose)[: x.ndim])]

    def eval_slice(self, layer):
        x = self.input(layer, 0)
        start, size, stride = (
            self.input(layer, j) if layer.num_inputs > j and layer.get_input(j) is not None else None for j in (1, 2, 3)
        )
        start = tuple(layer.start) if start is None else tuple(int(v) for v in start)
        size = tuple(layer.shape) if size is None else tuple(int(v) for v in size)
        stride = tuple(layer.stride) if stride is None else tuple(int(v) for v in stride)
        index = np.ix_(*(s + np.arange(n) * st for s, n, st in zip(start, size, stride)))
        return [x[index] if x.ndim else x]

    def eval_concatenation(self, layer):
        return [np.concatenate([self.input(layer, j) for j in range(layer.num_inputs)], axis=layer.axis)]

    def eval_gather(self, layer):
        indices = self.input(layer, 1)
        assert (indices >= 0).all(), "TensorRT gathers indices in [0, n)"
        return [np.take(self.input(layer, 0), indices.astype(np.int64), axis=layer.axis)]

    def eval_cast(self, layer):
        x = self.input(layer, 0)
        target = _NUMPY_TYPES[_name(layer.get_output(0).dtype)]
        if np.dtype(target).kind in "iu" and _wide(x).dtype.kind == "f":
            return [np.trunc(_wide(x)).astype(target)]  # TensorRT's Cast operator truncates (its example)
        return [_wide(x).astype(target) if x.dtype == ml_dtypes.bfloat16 else x.astype(target)]

    def eval_reduce(self, layer):
        x = _wide(self.input(layer, 0))
        fn = {"SUM": np.sum, "PROD": np.prod, "MAX": np.max, "MIN": np.min}[_name(layer.op)]
        return [fn(x, axis=_axes(layer.axes, x.ndim), keepdims=layer.keep_dims)]

    def eval_topk(self, layer):
        x = _wide(self.input(layer, 0))
        (axis,) = _axes(layer.axes, x.ndim)
        assert layer.k == 1 and _name(layer.op) == "MAX"
        indices = np.expand_dims(np.argmax(x, axis=axis), axis)
        return [np.take_along_axis(x, indices, axis), indices.astype(np.int32)]

    def eval_select(self, layer):
        return [np.where(self.input(layer, 0), self.input(layer, 1), self.input(layer, 2))]

    def eval_fill(self, layer):
        assert _name(layer.operation) == "LINSPACE"
        shape = self.input(layer, 0)
        shape = tuple(layer.shape) if shape is None else tuple(int(d) for d in shape)
        alpha, beta = self.input(layer, 1), self.input(layer, 2)
        grids = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
        return [alpha.reshape(()) + sum(g * beta[k] for k, g in enumerate(grids))]

    def eval_shape(self, layer):
        return [np.asarray(self.input(layer, 0).shape, dtype=np.int64)]

    def eval_identity(self, layer):
        return [self.input(layer, 0)]


def run_network(trt: ModuleType, lowered, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The outputs of a lowered network (:class:`tripy.backend.tensorrt.network.LoweredNetwork`)."""
    return NetworkInterpreter(trt, lowered.network, lowered.constant_values).run(inputs)
