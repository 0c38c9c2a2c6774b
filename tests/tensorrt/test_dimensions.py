"""Compiling with named dimensions, size arguments (DimensionInputInfo) and DimensionSize in the traced function.

Each function is checked against eager evaluation; where TensorRT is installed its engine is built too.
"""

from __future__ import annotations

import numpy as np
import pytest
from trt_checks import compile_quietly, run_quietly

import tripy as tp
from tripy.compiler.symbolic import SymInt


def test_named_dimensions_are_one_symbol_even_when_the_function_does_not_need_it():
    # a + sum(c) does not force the batch sizes to be equal; the name does.
    batch = tp.NamedDimension("batch", 1, 2, 6)
    infos = [tp.InputInfo((batch, 3), tp.float32), tp.InputInfo((batch, 4), tp.float32)]
    exe = compile_quietly(lambda a, c: a * tp.sum(c, dim=1, keepdim=True), infos)
    assert exe.graph.symbols == [((0, 0), (1, 0))]
    a, c = tp.iota((5, 3)), tp.ones((5, 4))
    np.testing.assert_array_equal(run_quietly(exe, a, c).numpy(), (a * 4.0).numpy())
    with pytest.raises(tp.TripyException, match="needs equal sizes for dimension 0 of `a`, dimension 0 of `c`"):
        run_quietly(exe, tp.ones((2, 3)), tp.ones((3, 4)))


def test_unnamed_dimensions_of_equal_ranges_stay_apart_when_they_can():
    infos = [tp.InputInfo(((1, 2, 6), 3), tp.float32), tp.InputInfo(((1, 2, 6), 4), tp.float32)]
    exe = compile_quietly(lambda a, c: tp.sum(a) + tp.sum(c), infos)
    assert len(exe.graph.symbols) == 2
    assert run_quietly(exe, tp.ones((2, 3)), tp.ones((5, 4))).tolist() == 26.0


def test_one_name_needs_one_range():
    infos = [
        tp.InputInfo((tp.NamedDimension("n", 1, 2, 4), 3), tp.float32),
        tp.InputInfo((tp.NamedDimension("n", 1, 2, 8), 3), tp.float32),
    ]
    with pytest.raises(tp.TripyException, match=r"the dimension named 'n' has the range .* \(1, 2, 4\) .* \(1, 2, 8\)"):
        tp.compile(lambda a, b: a + b, args=infos)


def test_dimension_size_of_a_dynamic_dimension_becomes_symbolic():
    def fold(x):
        rows = tp.DimensionSize(x.shape[0]) * 2
        return tp.reshape(x, (rows, -1))

    exe = compile_quietly(fold, [tp.InputInfo(((1, 2, 8), 4), tp.float32)])
    (op,) = exe.graph.ops
    assert isinstance(op.prim.shape[0], SymInt) and op.prim.shape[1] == 2
    for batch in (1, 3, 8):
        x = tp.iota((batch, 4), dim=1)
        assert run_quietly(exe, x).shape == (2 * batch, 2)
        np.testing.assert_array_equal(run_quietly(exe, x).numpy(), fold(x).numpy())


def test_size_arguments_follow_their_value():
    def grid(x, n):
        return tp.expand(x, (n, x.shape[1])) * n  # a size as a shape and as an int32 operand

    infos = [tp.InputInfo((1, 3), tp.int32), tp.DimensionInputInfo(value_bounds=(1, 2, 8))]
    exe = compile_quietly(grid, infos)
    assert exe.graph.symbols == [((1, 0),)]
    x = tp.Tensor([[1, 2, 3]])
    for n in (1, 4, 8):
        out = run_quietly(exe, x, tp.DimensionSize(n))
        assert out.shape == (n, 3)
        np.testing.assert_array_equal(out.numpy(), grid(x, tp.DimensionSize(n)).numpy())
    assert run_quietly(exe, x, 2).tolist() == [[2, 4, 6], [2, 4, 6]]  # a plain int works as well


def test_size_arguments_are_checked():
    exe = compile_quietly(lambda n: tp.ones((n,)), [tp.DimensionInputInfo((2, 3, 4))])
    with pytest.raises(tp.TripyException, match=r"Argument `n` .* is 5, but it was compiled for sizes 2..4"):
        run_quietly(exe, tp.DimensionSize(5))
    with pytest.raises(tp.TripyException, match=r"Argument `n` .* pass a tp.DimensionSize or an int, not Tensor"):
        run_quietly(exe, tp.ones((2,)))


def test_engines_build_for_named_and_size_arguments(trt):
    from tripy.backend.tensorrt.engine import check_engine

    batch = tp.NamedDimension("batch", 1, 2, 4)
    named = compile_quietly(lambda a, b: a + b, [tp.InputInfo((batch, 2), tp.float32)] * 2)
    sized = compile_quietly(lambda n: tp.ones((n, 2), tp.int32) * n, [tp.DimensionInputInfo((1, 2, 8))])
    for exe in (named, sized):
        assert exe.engine is not None and check_engine(trt, exe.engine).ok


def test_differently_named_dimensions_are_never_merged():
    infos = [
        tp.InputInfo((tp.NamedDimension("rows", 1, 2, 4), 3), tp.float32),
        tp.InputInfo((tp.NamedDimension("cols", 1, 2, 4), 3), tp.float32),
    ]
    # Same ranges, but different names: a function that needs them equal cannot be compiled...
    with pytest.raises(tp.TripyException, match="cannot be broadcast"):
        tp.compile(lambda a, b: a + b, args=infos)
    # ...and one that does not keeps two symbols.
    exe = compile_quietly(lambda a, b: tp.sum(a) + tp.sum(b), infos)
    assert exe.graph.symbols == [((0, 0),), ((1, 0),)]
    assert run_quietly(exe, tp.ones((1, 3)), tp.ones((4, 3))).tolist() == 15.0
