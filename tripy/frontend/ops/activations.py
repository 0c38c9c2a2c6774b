"""Activation functions and ``softmax``, composed from elementwise primitives and reductions."""

from __future__ import annotations

from tripy import dtypes
from tripy.export import public
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.elementwise import exp, maximum
from tripy.frontend.ops.reduce import max, sum
from tripy.frontend.utils import check_dtype, normalize_dim
from tripy.tensor import Tensor
from tripy.trace.primitives import Gelu


def _in_float32(fn, input: Tensor) -> Tensor:
    """``fn(input)`` computed in float32 and rounded once for float16/bfloat16/float8 inputs, as GPU kernels do:
    rounding every intermediate step would lose small results (gelu(-4) is -1.3e-4, and 1 + tanh cancels)."""
    if input.dtype == dtypes.float32:
        return fn(input)
    return cast(fn(cast(input, dtypes.float32)), input.dtype)


@public
def relu(input: Tensor) -> Tensor:
    """``max(x, 0)`` elementwise.

    .. code-block:: python

        assert tp.relu(tp.Tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]
    """
    return maximum(input, 0)


@public
def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))`` elementwise.

    .. code-block:: python

        assert tp.sigmoid(tp.zeros((1,))).tolist() == [0.5]
    """
    check_dtype(input, "input", "sigmoid", float_only=True)
    return _in_float32(lambda x: 1.0 / (1.0 + exp(-x)), input)


@public
def silu(input: Tensor) -> Tensor:
    """``x * sigmoid(x)`` elementwise.

    .. code-block:: python

        assert tp.silu(tp.zeros((1,))).tolist() == [0.0]
    """
    check_dtype(input, "input", "silu", float_only=True)
    return _in_float32(lambda x: x / (1.0 + exp(-x)), input)


@public
def gelu(input: Tensor) -> Tensor:
    """GELU with the tanh approximation used by GPT-2.

    .. code-block:: python

        out = tp.gelu(tp.Tensor([0.0, 1.0]))
        assert abs(out.tolist()[1] - 0.8412) < 1e-3
    """
    check_dtype(input, "input", "gelu", float_only=True)
    return Tensor.from_primitive(Gelu(), (input,))


@public
def softmax(input: Tensor, dim: int | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (the last dimension by default), computed stably.

    .. code-block:: python

        out = tp.softmax(tp.Tensor([[0.0, 0.0]]), dim=1)
        assert out.tolist() == [[0.5, 0.5]]
    """
    check_dtype(input, "input", "softmax", float_only=True)
    dim = normalize_dim(-1 if dim is None else dim, input.rank, "softmax")

    def stable(x: Tensor) -> Tensor:
        shifted = exp(x - max(x, dim, keepdim=True))
        return shifted / sum(shifted, dim, keepdim=True)

    return _in_float32(stable, input)
