"""tp.Tensor: construction, dtype inference, properties, export to NumPy/DLPack, and laziness."""

import ml_dtypes
import numpy as np
import pytest
from tripy_testing import rand

import tripy as tp
from tripy.trace.primitives import Binary, Unary


@pytest.mark.parametrize(
    "data, dtype, shape",
    [
        (1.5, tp.float32, ()),
        (3, tp.int32, ()),
        (True, tp.bool, ()),
        ([1, 2, 3], tp.int32, (3,)),
        ([1.0, 2], tp.float32, (2,)),
        ([[1, 2], [3, 4]], tp.int32, (2, 2)),
        ([[True], [False]], tp.bool, (2, 1)),
        ([], tp.float32, (0,)),
        ([[[0.5]]], tp.float32, (1, 1, 1)),
    ],
)
def test_inference_from_python(backend, data, dtype, shape):
    t = tp.Tensor(data)
    assert t.dtype == dtype and t.shape == shape and t.rank == len(shape)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data).astype(dtype.numpy))
    assert t.tolist() == np.asarray(data).astype(dtype.numpy).tolist()


@pytest.mark.parametrize(
    "np_dtype, dtype",
    [
        (np.float32, tp.float32),
        (np.float16, tp.float16),
        (ml_dtypes.bfloat16, tp.bfloat16),
        (np.int32, tp.int32),
        (np.int8, tp.int8),
        (np.int64, tp.int64),
        (np.bool_, tp.bool),
        (ml_dtypes.int4, tp.int4),
        (ml_dtypes.float8_e4m3fn, tp.float8),
        (np.float64, tp.float32),
    ],
)
def test_inference_from_numpy(backend, np_dtype, dtype):
    data = np.arange(6).reshape(2, 3).astype(np_dtype)
    t = tp.Tensor(data)
    assert t.dtype == dtype and t.shape == (2, 3)
    np.testing.assert_array_equal(t.numpy().astype(np.float64), data.astype(np.float64))


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.bfloat16, tp.int32, tp.int8, tp.int4, tp.float8, tp.bool])
def test_explicit_dtype_converts(backend, dtype):
    t = tp.Tensor([[0, 1, 2], [3, 4, 5]], dtype=dtype)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.arange(6).reshape(2, 3).astype(dtype.numpy))


def test_tolist_gives_python_numbers(backend):
    assert tp.Tensor(5).tolist() == 5 and isinstance(tp.Tensor(5).tolist(), int)
    assert tp.Tensor([[1.5]]).tolist() == [[1.5]]
    assert tp.Tensor([True, False]).tolist() == [True, False]
    bf = tp.Tensor([1.5, -2.0], dtype=tp.bfloat16).tolist()
    assert bf == [1.5, -2.0] and all(isinstance(v, float) for v in bf)
    i4 = tp.Tensor([1, -3], dtype=tp.int4).tolist()
    assert i4 == [1, -3] and all(isinstance(v, int) for v in i4)
    f8 = tp.Tensor([0.5, 448.0], dtype=tp.float8).tolist()
    assert f8 == [0.5, 448.0] and all(isinstance(v, float) for v in f8)


def test_noncontiguous_numpy_input(backend):
    data = np.arange(24, dtype=np.float32).reshape(4, 6)[::2, 1::2]
    np.testing.assert_array_equal(tp.Tensor(data).numpy(), data)


def test_construction_copies_are_independent_of_later_numpy_writes(backend):
    data = np.arange(3, dtype=np.float64)
    t = tp.Tensor(data)  # float64 is converted to float32, so this is a copy
    data[0] = 100
    assert t.tolist() == [0.0, 1.0, 2.0]


class DLPackProducer:
    """A minimal DLPack producer on the CPU (as a PyTorch or JAX tensor would be)."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, *args, **kwargs):
        return self.array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()


@pytest.mark.parametrize(
    "np_dtype, dtype",
    [
        (np.float32, tp.float32),
        (np.float16, tp.float16),
        (np.int32, tp.int32),
        (np.int8, tp.int8),
        (np.int64, tp.int64),
        (np.bool_, tp.bool),
    ],
)
def test_construction_from_dlpack_producers(backend, np_dtype, dtype):
    data = (np.arange(6).reshape(3, 2) % 2).astype(np_dtype)
    t = tp.Tensor(DLPackProducer(data))
    assert t.dtype == dtype and t.shape == (3, 2)
    np.testing.assert_array_equal(t.numpy(), data)


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.int32, tp.int8, tp.int64, tp.bool])
def test_export_with_dlpack_and_array(backend, dtype):
    data = rand((2, 3), dtype)
    t = tp.Tensor(data) + tp.zeros((2, 3), dtype) if dtype != tp.bool else tp.Tensor(data) | tp.Tensor(data)
    if backend == "numpy":
        np.testing.assert_array_equal(np.from_dlpack(t), data)
        assert t.__dlpack_device__()[0] == 1  # kDLCPU
    np.testing.assert_array_equal(np.asarray(t), data)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


def test_export_of_views_is_the_viewed_values(backend):
    x = tp.Tensor(np.arange(12, dtype=np.int32).reshape(3, 4))
    for view, expected in (
        (tp.transpose(x, 0, 1), np.arange(12).reshape(3, 4).T),
        (x[::-1, 1::2], np.arange(12).reshape(3, 4)[::-1, 1::2]),
        (tp.expand(x[:1], (2, 4)), np.broadcast_to(np.arange(4), (2, 4))),
    ):
        np.testing.assert_array_equal(np.asarray(view), expected)
        if backend == "numpy":
            np.testing.assert_array_equal(np.from_dlpack(view), expected)


def test_scalar_conversions(backend):
    assert float(tp.Tensor([2.5])) == 2.5
    assert int(tp.Tensor([[7]])) == 7
    assert bool(tp.Tensor(True)) is True and bool(tp.Tensor([0])) is False
    assert len(tp.ones((4, 2))) == 4
    assert float(tp.Tensor([1.5], dtype=tp.bfloat16)) == 1.5 and int(tp.Tensor([[-3]], dtype=tp.int4)) == -3
    assert float(tp.Tensor(2.0, dtype=tp.float8)) == 2.0


def test_device_and_shape_properties(backend):
    t = tp.ones((2, 3))
    expected = "cpu:0" if backend == "numpy" else "gpu:0"
    assert t.device == expected and t.eval().device == expected
    assert t.shape == (2, 3) and isinstance(t.shape, tuple)
    assert tp.Tensor([1.0], device="cpu").device == "cpu:0"


def test_tensor_is_lazy_until_a_value_is_needed(backend):
    x = tp.Tensor([1.0, 2.0])
    y = tp.exp(x) * 2.0 + 1.0
    # Before evaluation the result is a recorded operation on a trace, with its shape and dtype known.
    assert y._value is None and y._node is not None
    assert y.shape == (2,) and y.dtype == tp.float32
    assert isinstance(y.node.prim, Binary) and y.node.inputs[0].node is not None
    assert y.eval() is y
    assert y._value is not None and y._node is None
    np.testing.assert_allclose(y.numpy(), np.exp([1.0, 2.0]) * 2 + 1, rtol=1e-6)


@pytest.mark.parametrize("trigger", [repr, lambda t: t.tolist(), np.asarray, lambda t: t.numpy(), float])
def test_every_way_of_reading_a_value_evaluates(backend, trigger):
    y = tp.sum(tp.ones((3,)))
    assert y._value is None
    trigger(y)
    assert y._value is not None


def test_intermediate_results_are_shared_not_recomputed(backend):
    x = tp.Tensor([1.0, 2.0])
    shared = x * 3.0
    a, b = shared + 1.0, shared - 1.0
    assert a.tolist() == [4.0, 7.0] and b.tolist() == [2.0, 5.0]
    shared.eval()
    assert (shared * 2.0).tolist() == [6.0, 12.0]


def test_evaluation_keeps_intermediate_values_so_later_evaluations_do_not_recompute(backend, monkeypatch):
    from tripy.trace import evaluate

    x = tp.Tensor([1.0, 2.0])
    hidden = tp.exp(x) * 2.0  # an intermediate result, as a model layer's output
    first = hidden + 1.0
    second = hidden - 1.0
    runs = []
    real_run = evaluate.run
    monkeypatch.setattr(
        evaluate,
        "run",
        lambda backend, prim, args, where: runs.append(type(prim)) or real_run(backend, prim, args, where),
    )
    first.eval()
    assert runs.count(Unary) == 1 and hidden._value is not None and hidden._node is None
    runs.clear()
    second.eval()
    # only the subtraction (and the reshape of its scalar operand): exp and the product were kept
    assert Unary not in runs and runs.count(Binary) == 1
    np.testing.assert_allclose(second.numpy(), np.exp([1.0, 2.0]) * 2 - 1, rtol=1e-6)


def test_deep_traces_evaluate(backend):
    y = tp.zeros((2,))
    for _ in range(3000):
        y = y + 1.0
    assert y.tolist() == [3000.0, 3000.0]


def test_tensors_are_hashable_and_compare_elementwise(backend):
    a = tp.Tensor([1, 2])
    assert len({a: 1}) == 1
    assert (a == tp.Tensor([1, 3])).tolist() == [True, False]


@pytest.mark.parametrize(
    "dtype, np_dtype",
    [(tp.bfloat16, ml_dtypes.bfloat16), (tp.float8, ml_dtypes.float8_e4m3fn), (tp.int4, ml_dtypes.int4)],
)
def test_numpy_export_of_ml_dtypes_types(backend, dtype, np_dtype):
    # NumPy's DLPack has no bfloat16/float8/int4, so these export through __array__ (ml_dtypes arrays).
    t = tp.Tensor([[1, -2], [3, 4]], dtype=dtype)
    array = np.asarray(t)
    assert array.dtype == np.dtype(np_dtype)
    np.testing.assert_array_equal(array.astype(np.float32), np.array([[1, -2], [3, 4]], np.float32))


@pytest.mark.parametrize("wrap", [lambda a: a, DLPackProducer], ids=["ndarray", "dlpack"])
def test_later_writes_to_the_source_memory_do_not_change_tensors(backend, wrap):
    data = np.zeros(3, np.float32)
    t = tp.Tensor(wrap(data))
    lazy = t + 1.0
    param = tp.Parameter(wrap(data))
    data[0] = 5.0
    assert t.tolist() == [0.0, 0.0, 0.0]
    assert lazy.tolist() == [1.0, 1.0, 1.0]
    assert param.tolist() == [0.0, 0.0, 0.0]
