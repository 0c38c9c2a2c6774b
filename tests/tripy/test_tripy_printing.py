"""How tensors print: Tripy's style, layouts of each rank, each dtype, and summaries of large tensors."""

import numpy as np
import pytest

import tripy as tp


def test_1d_int32(backend):
    dev = "cpu:0" if backend == "numpy" else "gpu:0"
    assert repr(tp.Tensor([1, 2, 3])) == f"tensor([1, 2, 3], dtype=int32, loc={dev}, shape=(3,))"
    assert str(tp.Tensor([1, 2, 3])) == repr(tp.Tensor([1, 2, 3]))


@pytest.fixture
def dev(backend):
    return "cpu:0" if backend == "numpy" else "gpu:0"


def test_scalar_and_empty(dev):
    assert repr(tp.Tensor(2.5)) == f"tensor(2.5000, dtype=float32, loc={dev}, shape=())"
    assert repr(tp.Tensor(7)) == f"tensor(7, dtype=int32, loc={dev}, shape=())"
    assert repr(tp.Tensor([])) == f"tensor([], dtype=float32, loc={dev}, shape=(0,))"


def test_2d_layout_aligns_columns(dev):
    expected = f"tensor(\n    [[0.0000, 1.0000],\n     [2.0000, 3.0000]],\n    dtype=float32, loc={dev}, shape=(2, 2))"
    assert repr(tp.Tensor([[0.0, 1.0], [2.0, 3.0]])) == expected
    expected = f"tensor(\n    [[  1, -20],\n     [300,   4]],\n    dtype=int32, loc={dev}, shape=(2, 2))"
    assert repr(tp.Tensor([[1, -20], [300, 4]])) == expected


def test_seed_guide_output_printout(dev):
    quant_linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=None)
    quant_linear.weight_scale = tp.Parameter(1.0)
    quant_linear.input_scale = tp.Parameter(1.0)
    out = quant_linear(tp.iota((3, 4), dtype=tp.float32))
    assert repr(out) == (
        "tensor(\n"
        "    [[ 0.0000,  1.0000],\n"
        "     [ 6.0000, 23.0000],\n"
        "     [12.0000, 45.0000]],\n"
        f"    dtype=float32, loc={dev}, shape=(3, 2))"
    )


def test_3d_layout_separates_blocks_with_an_empty_line(dev):
    text = repr(tp.Tensor(np.arange(8, dtype=np.int32).reshape(2, 2, 2)))
    assert text == (
        "tensor(\n"
        "    [[[0, 1],\n"
        "      [2, 3]],\n"
        "\n"
        "     [[4, 5],\n"
        "      [6, 7]]],\n"
        f"    dtype=int32, loc={dev}, shape=(2, 2, 2))"
    )
    assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize(
    "dtype, text",
    [
        (tp.float16, "[ 1.5000, -2.0000]"),
        (tp.bfloat16, "[ 1.5000, -2.0000]"),
        (tp.float8, "[ 1.5000, -2.0000]"),
        (tp.int8, "[ 1, -2]"),
        (tp.int4, "[ 1, -2]"),
        (tp.int64, "[ 1, -2]"),
    ],
)
def test_each_dtype_prints_its_values_and_name(dev, dtype, text):
    t = tp.Tensor([1.5, -2.0], dtype=dtype) if dtype.is_float else tp.Tensor([1, -2], dtype=dtype)
    assert repr(t) == f"tensor({text}, dtype={dtype}, loc={dev}, shape=(2,))"


def test_bool_and_special_values(dev):
    assert repr(tp.Tensor([True, False])) == f"tensor([ True, False], dtype=bool, loc={dev}, shape=(2,))"
    text = repr(tp.Tensor([float("inf"), float("-inf"), float("nan"), 1.0]))
    assert "inf" in text and "-inf" in text and "nan" in text


def test_large_and_tiny_floats_use_scientific_notation(dev):
    assert "1.0000e+09" in repr(tp.Tensor([1e9, 1.0]))
    assert "1.0000e-06" in repr(tp.Tensor([1e-6, 1.0]))


def test_large_tensors_are_summarised(dev):
    big = tp.Tensor(np.arange(3000, dtype=np.int32).reshape(30, 100))
    text = repr(big)
    lines = text.splitlines()
    assert lines[1] == "    [[   0,    1,    2, ...,   97,   98,   99],"
    assert "     ...," in lines
    assert lines[-2] == "     [2900, 2901, 2902, ..., 2997, 2998, 2999]],"
    assert lines[-1] == f"    dtype=int32, loc={dev}, shape=(30, 100))"
    assert len(lines) == 1 + 7 + 1  # "tensor(", 3 + 1 + 3 rows, the metadata
    long = repr(tp.arange(2000, dtype=tp.int32))
    assert long == f"tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=int32, loc={dev}, shape=(2000,))"


def test_small_tensors_are_not_summarised(dev):
    text = repr(tp.Tensor(np.arange(1000, dtype=np.int32)))
    assert "..." not in text and "999" in text


def test_printing_does_not_change_the_tensor(dev):
    t = tp.iota((2, 2)) + 1.0
    first = repr(t)
    assert repr(t) == first and t.tolist() == [[1.0, 1.0], [2.0, 2.0]]


def test_dtypes_print_as_names():
    assert [
        str(d) for d in (tp.float32, tp.float16, tp.bfloat16, tp.float8, tp.int4, tp.int8, tp.int32, tp.int64, tp.bool)
    ] == ["float32", "float16", "bfloat16", "float8", "int4", "int8", "int32", "int64", "bool"]
    assert repr(tp.int8) == "int8"
