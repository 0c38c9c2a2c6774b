"""``resize``: nearest, linear or cubic interpolation to a new shape, one dimension at a time.

The source positions and weights depend only on the shapes, so they are computed on the host and applied
with ``gather`` and elementwise products. Coordinates follow PyTorch's ``interpolate``: ``nearest`` takes
``floor(i * scale)``; ``linear`` and ``cubic`` use half-pixel centres (or the corners with
``align_corners``), and cubic uses Keys' kernel with ``a = -0.75``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from tripy import dtypes
from tripy.errors import raise_error
from tripy.export import public
from tripy.frontend.ops.cast import cast
from tripy.frontend.ops.shape import gather, reshape
from tripy.frontend.ops.windows import created_at
from tripy.tensor import Tensor

MODES = ("nearest", "linear", "cubic")
_CUBIC_A = -0.75


def _source(n: int, out: int, scale: float | None, align_corners: bool) -> np.ndarray:
    """The real-valued source coordinate of each of the ``out`` output positions (half-pixel or corners)."""
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        return dst * ((n - 1) / (out - 1)) if out > 1 else np.zeros(out)
    step = n / out if scale is None else 1.0 / scale
    return (dst + 0.5) * step - 0.5


def _taps(n: int, out: int, scale: float | None, mode: str, align_corners: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(source indices, weights) pairs whose weighted sum gives each output position."""
    if mode == "nearest":
        step = n / out if scale is None else 1.0 / scale
        index = np.minimum(np.floor(np.arange(out) * step), n - 1).astype(np.int32)
        return [(index, np.ones(out))]
    src = _source(n, out, scale, align_corners)
    if mode == "linear":
        src = np.maximum(src, 0.0)
        low = np.minimum(np.floor(src), n - 1)
        frac = src - low
        high = np.minimum(low + 1, n - 1)
        return [(low.astype(np.int32), 1.0 - frac), (high.astype(np.int32), frac)]
    base = np.floor(src)
    t = src - base
    a = _CUBIC_A

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    return [(np.clip(base + o, 0, n - 1).astype(np.int32), w) for o, w in zip((-1, 0, 1, 2), weights, strict=True)]


def _resize_dim(x: Tensor, dim: int, out: int, scale: float | None, mode: str, align_corners: bool) -> Tensor:
    view = (1,) * dim + (out,) + (1,) * (x.rank - dim - 1)
    result: Tensor | None = None
    for index, weight in _taps(x.shape[dim], out, scale, mode, align_corners):
        picked = gather(x, dim, Tensor(index))
        if mode != "nearest":
            picked = picked * reshape(Tensor(weight.astype(np.float32)), view)
        result = picked if result is None else result + picked
    assert result is not None
    return result


@public
def resize(
    input: Tensor,
    mode: str,
    output_shape: Sequence[int] | None = None,
    scales: Sequence[float] | None = None,
    align_corners: bool = False,
) -> Tensor:
    """``input`` resampled to ``output_shape``, or to ``floor(n * scale)`` per dimension with ``scales``.

    ``mode`` is ``"nearest"``, ``"linear"`` (linear in each resized dimension: bilinear on images) or
    ``"cubic"``; ``output_shape`` and ``scales`` have one entry per dimension of ``input`` (1 keeps it), and
    exactly one of them is given. ``align_corners`` (linear and cubic) maps the corner elements onto each other
    instead of the corners of the pixels. Linear and cubic need a float ``input``.

    .. code-block:: python

        x = tp.Tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
        assert tp.resize(x, "nearest", scales=(1, 1, 2, 2)).tolist()[0][0][1] == [1.0, 1.0, 2.0, 2.0]
        out = tp.resize(x, "linear", output_shape=(1, 1, 3, 3), align_corners=True)
        assert out.tolist() == [[[[1.0, 1.5, 2.0], [2.0, 2.5, 3.0], [3.0, 3.5, 4.0]]]]
    """
    if not isinstance(input, Tensor):
        raise_error(f"resize: `input` must be a tp.Tensor, not {type(input).__name__}.")
    if mode not in MODES:
        raise_error(f"resize: `mode` must be one of {', '.join(map(repr, MODES))}, not {mode!r}.")
    if (output_shape is None) == (scales is None):
        raise_error("resize: give exactly one of `output_shape` and `scales`.")
    if mode == "nearest" and align_corners:
        raise_error("resize: `align_corners` applies to modes 'linear' and 'cubic', not 'nearest'.")
    if mode != "nearest" and not input.dtype.is_float:
        raise_error(
            f"resize: mode {mode!r} needs a floating-point `input`, but it is {input.dtype}.", created_at(input)
        )
    name = "output_shape" if output_shape is not None else "scales"
    given: Sequence[float] = output_shape if output_shape is not None else scales or ()
    if not isinstance(given, Sequence) or len(given) != input.rank:
        raise_error(
            f"resize: `{name}` must have one entry per dimension of `input` ({input.rank}, shape {input.shape}), "
            f"not {given!r}.",
            created_at(input),
        )
    sizes: list[int] = []
    factors: list[float | None] = []
    for n, value in zip(input.shape, given, strict=True):
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if output_shape is not None:
            if not is_number or not isinstance(value, numbers.Integral) or value < 1:
                raise_error(f"resize: `output_shape` must hold positive ints, but it is {tuple(given)}.")
            sizes.append(int(value))
            factors.append(None)
        else:
            if not is_number or not math.isfinite(value) or value <= 0 or math.floor(n * value) < 1:
                raise_error(
                    f"resize: `scales` must hold positive numbers that leave each dimension at least 1 long, but "
                    f"it is {tuple(given)} for `input` of shape {input.shape}.",
                    created_at(input),
                )
            sizes.append(math.floor(n * value))
            factors.append(float(value))
    wide = mode != "nearest" and input.dtype != dtypes.float32
    x = cast(input, dtypes.float32) if wide else input
    for dim, (n, out, factor) in enumerate(zip(input.shape, sizes, factors, strict=True)):
        if out != n or (factor is not None and factor != 1):
            x = _resize_dim(x, dim, out, factor, mode, align_corners)
    return cast(x, input.dtype) if wide else x
