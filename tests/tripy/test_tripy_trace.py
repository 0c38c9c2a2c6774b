"""Every public op records only backend primitives, with shapes and dtypes that match the computed values."""

import numpy as np
import pytest

import tripy as tp
from tripy.trace.node import topological_order
from tripy.trace.primitives import ALL_PRIMITIVES, FusedElementwise, FusedReduce, TensorType

#: What the frontend may record: every primitive but the generated kernels' programs (the fusion pass's).
FRONTEND_PRIMITIVES = tuple(p for p in ALL_PRIMITIVES if p not in (FusedElementwise, FusedReduce))


def quantized_linear(x):
    linear = tp.Linear(4, 3, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([0.5, 1.0, 2.0])
    linear.input_scale = tp.Parameter(0.25)
    return linear(x)


def int4_linear(x):
    linear = tp.Linear(4, 2, quant_dtype=tp.int4)
    linear.weight_scale = tp.Parameter(np.ones((1, 2), np.float32))
    return linear(x)


COMPOSITES = {
    "softmax": lambda x: tp.softmax(x, 1),
    "gelu": tp.gelu,
    "silu": tp.silu,
    "sigmoid": tp.sigmoid,
    "relu": tp.relu,
    "layernorm": lambda x: tp.LayerNorm(4)(x),
    "linear": lambda x: tp.Linear(4, 2)(x),
    "quantized linear": quantized_linear,
    "int4 block-wise linear": int4_linear,
    "tril": tp.tril,
    "triu": lambda x: tp.triu(x, 1),
    "var": lambda x: tp.var(x, 0),
    "mean": lambda x: tp.mean(x, (0, 1), keepdim=True),
    "argmin": lambda x: tp.argmin(x, 1),
    "all": lambda x: tp.all(x > 0, 1),
    "repeat": lambda x: tp.repeat(x, 2, 1),
    "split": lambda x: tp.split(x, 2, 1)[1],
    "stack": lambda x: tp.stack([x, x], 1),
    "flatten": tp.flatten,
    "indexing": lambda x: x[::-1, None, 1:3],
    "masked_fill": lambda x: tp.masked_fill(x, x > 1, 0.0),
    "arange": lambda x: tp.arange(4, dtype=tp.int32),
    "quantize round trip": lambda x: tp.dequantize(tp.quantize(x, 0.5, tp.int8), 0.5, tp.float16),
}


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_composites_record_only_primitives(backend, name):
    x = tp.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 4)
    out = COMPOSITES[name](x)
    nodes = topological_order([out])
    assert nodes, "the result should be lazy"
    for tensor in nodes:
        node = tensor.node
        assert isinstance(node.prim, FRONTEND_PRIMITIVES), node
        # The primitive's own inference gives the type the frontend recorded.
        assert node.prim.infer([TensorType(i.shape, i.dtype) for i in node.inputs]) == (tensor.shape, tensor.dtype)
    # Each recorded shape and dtype is the one the backend computes.
    for tensor in nodes:
        prim = tensor.node.prim
        value = tensor.eval().numpy()
        assert tuple(value.shape) == tensor.shape, prim
        assert np.dtype(value.dtype) == np.dtype(tensor.dtype.numpy), tensor.dtype


ALL_DTYPES = [tp.float32, tp.float16, tp.bfloat16, tp.float8, tp.int4, tp.int8, tp.int32, tp.int64, tp.bool]

OPS = {
    **{f"unary {name}": getattr(tp, name) for name in ("exp", "log", "sqrt", "rsqrt", "tanh", "sin", "cos", "abs")},
    "neg": lambda a, b: -a,
    "invert": lambda a, b: ~a,
    **{
        f"binary {sym}": fn
        for sym, fn in {
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "/": lambda a, b: a / b,
            "//": lambda a, b: a // b,
            "%": lambda a, b: a % b,
            "**": lambda a, b: a**b,
            "&": lambda a, b: a & b,
            "|": lambda a, b: a | b,
            "==": lambda a, b: a == b,
            "<": lambda a, b: a < b,
            ">=": lambda a, b: a >= b,
            "max": tp.maximum,
            "min": tp.minimum,
            "scalar +": lambda a, b: a + 1,
            "scalar r-": lambda a, b: 1 - a,
        }.items()
    },
    **{
        f"reduce {name}": (lambda fn: lambda a, b: fn(a, 0))(getattr(tp, name))
        for name in ("sum", "prod", "max", "min", "mean", "var", "argmax", "argmin", "all", "any")
    },
    "matmul": lambda a, b: a @ tp.transpose(b, 0, 1),
    "where": lambda a, b: tp.where(tp.ones(a.shape, tp.bool), a, b),
    "softmax": lambda a, b: tp.softmax(a, 1),
    "gelu": lambda a, b: tp.gelu(a),
    "relu": lambda a, b: tp.relu(a),
    "tril": lambda a, b: tp.tril(a),
    "gather": lambda a, b: tp.gather(a, 1, tp.Tensor([1, 0])),
    "concatenate": lambda a, b: tp.concatenate([a, b], 0),
    "slice": lambda a, b: a[::-1, 1:],
    "expand": lambda a, b: tp.expand(a[:1], (4, 2)),
    **{f"cast to {d}": (lambda target: lambda a, b: tp.cast(a, target))(d) for d in ALL_DTYPES},
}


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("name", list(OPS))
def test_accepted_ops_compute_the_recorded_shape_and_dtype(backend, name, dtype):
    """Whatever the frontend accepts, the backend computes, with the shape and dtype the trace recorded."""
    values = np.array([[1, 2], [3, 1]])
    a, b = tp.Tensor(values, dtype=dtype), tp.Tensor(values[::-1].copy(), dtype=dtype)
    fn = OPS[name]
    try:
        out = fn(a) if name.startswith("unary") else fn(a, b)
    except tp.TripyException as exc:  # rejected up front is fine: with a message that names the problem
        assert "`" in str(exc) or "'" in str(exc), str(exc)
        return
    value = out.numpy()
    assert tuple(value.shape) == out.shape
    assert np.dtype(value.dtype) == np.dtype(out.dtype.numpy), f"{name} on {dtype}: {value.dtype} vs {out.dtype}"
