"""Tracing for ``tp.compile``: how ints of the trace are found to depend on dynamic dimensions.

These tests need no TensorRT: they check the traced graph, which the lowering and the fallback share.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

import tripy as tp
from tripy.compiler.graph import Argument, _trace_sizes, trace_function
from tripy.compiler.symbolic import SymInt, fit_int, resolve
from tripy.trace.primitives import Iota, Reshape


def trace(func, *infos):
    return trace_function(func, [Argument(f"x{i}", False, info) for i, info in enumerate(infos)])


def test_fit_int_monomials_and_affine_forms():
    assert fit_int(7, [7], [4], [8]) == 7
    assert fit_int(12, [24], [4], [8]) == SymInt(Fraction(3), ((0, 1),))  # 3 * d
    assert fit_int(16, [64], [4], [8]) == SymInt(Fraction(1), ((0, 2),))  # d ** 2
    assert fit_int(2, [4], [4], [8]) == SymInt(Fraction(1, 2), ((0, 1),))  # d // 2
    assert fit_int(5, [9], [4], [8]) == SymInt(Fraction(1), ((0, 1),), 1)  # d + 1
    assert fit_int(20, [40, 60], [4, 5], [8, 15]) == SymInt(Fraction(1), ((0, 1), (1, 1)))  # d0 * d1
    assert fit_int(5, [9, 10], [4, 5], [8, 10]) is None  # d0 + d1: not expressible
    assert SymInt(Fraction(1, 2), ((0, 1),)).evaluate([7]) == 3


def test_trace_sizes_stay_in_range_when_they_can():
    assert _trace_sizes((1, 4, 16)) == (4, 8, 12)
    assert _trace_sizes((1, 4, 6)) == (4, 6, 5)
    assert _trace_sizes((1, 1, 2)) == (2, 4, 6)  # too narrow: traced outside the range
    assert all(s >= 2 for s in _trace_sizes((0, 0, 3)))


def test_reshape_flatten_and_mask_sizes_are_symbolic():
    def f(x):
        batch, seq, _ = x.shape
        flat = tp.reshape(x, (batch * seq, 4))
        mask = tp.tril(tp.ones((seq, seq)))
        return flat, mask

    graph = trace(f, tp.InputInfo(((1, 2, 4), (1, 8, 16), 4), tp.float32))
    assert graph.symbols == [((0, 0),), ((0, 1),)]
    (reshape,) = [
        op.prim
        for op in graph.ops
        if isinstance(op.prim, Reshape) and len(op.prim.shape) == 2 and op.prim.shape[1] == 4
    ]
    batch_times_seq = SymInt(Fraction(1), ((0, 1), (1, 1)))
    assert reshape.shape == (batch_times_seq, 4)
    assert resolve(reshape.shape, [3, 5]) == (15, 4)
    iotas = [op.prim for op in graph.ops if isinstance(op.prim, Iota)]
    assert iotas and all(p.shape == (SymInt(Fraction(1), ((1, 1),)),) * 2 for p in iotas)


def test_function_that_rejects_sizes_beyond_its_range_still_traces():
    def f(x):
        if x.shape[0] > 8:
            raise ValueError("at most 8 rows")
        return x * 2.0

    graph = trace(f, tp.InputInfo(((1, 4, 8), 3), tp.float32))
    assert graph.symbols == [((0, 0),)]


def test_python_branch_on_a_dynamic_size_is_an_error():
    def f(x):
        return x * 2.0 if x.shape[0] > 4 else x + 1.0

    with pytest.raises(tp.TripyException, match="depends on the size of a dynamic dimension") as info:
        trace(f, tp.InputInfo(((1, 4, 8), 3), tp.float32))
    assert "traced again with other sizes" in str(info.value)


def test_mean_over_a_dynamic_dimension_divides_by_its_size():
    graph = trace(lambda x: tp.mean(x, dim=0), tp.InputInfo(((1, 4, 8), 3), tp.float32))
    (count,) = [c for c in graph.constants if c.sym is not None]
    assert count.sym == SymInt(Fraction(1), ((0, 1),))
    out = graph.to_tensors([tp.ones((5, 3))])
    assert out[0].tolist() == [1.0, 1.0, 1.0]
