"""``tp.DimensionSize`` in eager code, ``tp.NamedDimension``, ``tp.Bounds`` and the InputInfo bounds."""

from __future__ import annotations

import numpy as np
import pytest

import tripy as tp


def test_a_size_is_an_int32_scalar_tensor_that_knows_its_int():
    d = tp.DimensionSize(5)
    assert isinstance(d, tp.Tensor) and d.dtype == tp.int32 and d.shape == ()
    assert d.size == 5 and int(d) == 5 and d.tolist() == 5 and range(d) == range(5)
    assert "tensor(5, dtype=int32" in repr(d)
    assert tp.DimensionSize(np.int64(3)).size == 3 and tp.DimensionSize(d).size == 5


@pytest.mark.parametrize("bad", [-1, 2.5, "3", True, tp.Tensor([1, 2])])
def test_a_size_must_be_a_non_negative_int(bad):
    with pytest.raises(tp.TripyException, match="`data` must be a non-negative int") as info:
        tp.DimensionSize(bad)
    assert __file__ in str(info.value)


def test_arithmetic_with_ints_and_sizes_stays_a_size():
    d = tp.DimensionSize(6)
    for out, expected in [(d + 1, 7), (2 + d, 8), (d - 2, 4), (10 - d, 4), (d * 3, 18), (3 * d, 18), (d // 4, 1)]:
        assert isinstance(out, tp.DimensionSize) and out.size == expected
    assert (d * tp.DimensionSize(2)).size == 12 and (13 // d).size == 2
    zero = d - 6
    assert isinstance(zero, tp.DimensionSize) and zero.size == 0  # a size of 0 is still a size (not falsy-skipped)
    negative = d - 10  # not a size any more: an int32 tensor
    assert not isinstance(negative, tp.DimensionSize) and negative.tolist() == -4
    with pytest.raises(tp.TripyException, match="floor division by zero"):
        d // 0


def test_with_tensors_a_size_is_an_int32_operand():
    d = tp.DimensionSize(3)
    out = tp.Tensor([1, 2]) * d
    assert type(out) is tp.Tensor and out.tolist() == [3, 6]


def test_ops_that_take_sizes_take_dimension_sizes():
    x = tp.iota((2, 3, 4), dim=2)
    rows = tp.DimensionSize(x.shape[0]) * x.shape[1]
    assert tp.reshape(x, (rows, -1)).shape == (6, 4)
    assert tp.reshape(x, (tp.DimensionSize(24),)).shape == (24,)
    assert tp.expand(tp.ones((1, 4)), (tp.DimensionSize(3), -1)).shape == (3, 4)
    assert tp.iota((tp.DimensionSize(2), 3), dim=1).tolist() == [[0.0, 1.0, 2.0]] * 2
    assert tp.ones(tp.DimensionSize(2)).tolist() == [1.0, 1.0]
    assert tp.zeros((tp.DimensionSize(1), 2), tp.int32).tolist() == [[0, 0]]
    assert tp.full((2,), tp.DimensionSize(7), tp.int32).tolist() == [7, 7]
    # A rank-0 integer tensor whose value can be computed now is a size too.
    assert tp.reshape(x, (tp.Tensor(4), -1)).shape == (4, 6)


def test_a_wrong_size_is_still_named():
    with pytest.raises(tp.TripyException, match="cannot reshape"):
        tp.reshape(tp.ones((2, 3)), (tp.DimensionSize(4), 2))
    with pytest.raises(tp.TripyException, match="`shape` must be a sequence of non-negative ints"):
        tp.ones((tp.Tensor(1.5), 2))


def test_named_dimension_and_bounds():
    batch = tp.NamedDimension("batch", 1, 4, 8)
    assert (batch.name, batch.min, batch.opt, batch.max) == ("batch", 1, 4, 8)
    assert repr(batch) == "NamedDimension('batch', min=1, opt=4, max=8)"
    info = tp.InputInfo((batch, (2, 3, 4), 5), tp.float32)
    assert info.dimension_names == {0: "batch"}
    assert batch.bounds == (1, 4, 8)
    assert tp.InputInfo((tp.DimensionSize(2), (1, tp.DimensionSize(3), 4)), tp.int32).ranges == ((2, 2, 2), (1, 3, 4))
    assert info.shape_bounds == tp.Bounds(min=(1, 2, 5), opt=(4, 3, 5), max=(8, 4, 5))
    assert not info.shape_bounds.is_static() and tp.InputInfo((2, 3), tp.float32).shape_bounds.is_static()
    assert info.dynamic_axes == (0, 1)
    assert repr(info) == "InputInfo(shape=(NamedDimension('batch', min=1, opt=4, max=8), (2, 3, 4), 5), dtype=float32)"
    assert info != tp.InputInfo(((1, 4, 8), (2, 3, 4), 5), tp.float32)  # the name is part of it


@pytest.mark.parametrize(
    "args, message",
    [
        (("", 1, 2, 3), "`name` must be a non-empty string"),
        (("b", 1, 2.0, 3), "`opt` must be an int"),
        (("b", 3, 2, 4), r"needs 0 <= `min` <= `opt` <= `max`, but they are 3, 2, 4"),
    ],
)
def test_bad_named_dimensions(args, message):
    with pytest.raises(tp.TripyException, match=message):
        tp.NamedDimension(*args)


def test_dimension_input_info():
    info = tp.DimensionInputInfo(value_bounds=(1, 2, 8))
    assert info.value_bounds == tp.Bounds((1,), (2,), (8,)) and info.dtype == tp.int32
    assert repr(info) == "DimensionInputInfo(value_bounds=(1, 2, 8))"
    assert tp.DimensionInputInfo(info.value_bounds) == info == tp.DimensionInputInfo(tp.Bounds(1, 2, 8))
    assert tp.DimensionInputInfo((tp.DimensionSize(1), 2, tp.DimensionSize(8))) == info
    with pytest.raises(tp.TripyException, match="`value_bounds` of tp.DimensionInputInfo"):
        tp.DimensionInputInfo((3, 2, 1))
