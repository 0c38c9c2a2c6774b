"""Shape and movement ops and indexing against NumPy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tripy_testing import assert_close, rand

import tripy as tp

DTYPES = [tp.float32, tp.float16, tp.bfloat16, tp.int32, tp.int8, tp.bool]


@pytest.fixture(params=DTYPES, ids=str)
def dtype(request):
    return request.param


@pytest.mark.parametrize(
    "src, dst",
    [
        ((2, 3, 4), (6, 4)),
        ((2, 3, 4), (-1,)),
        ((6,), (2, -1)),
        ((2, 3), (3, 2)),
        ((1,), ()),
        ((), (1, 1)),
        ((2, 3, 4), (4, 3, 2)),
    ],
)
def test_reshape(backend, dtype, src, dst):
    data = rand(src, dtype)
    assert_close(tp.reshape(tp.Tensor(data), dst), data.reshape(dst), dtype, ulps=0)


@pytest.mark.parametrize("perm", [(0, 1, 2), (2, 0, 1), (1, 0, 2), (-1, 0, 1)])
def test_permute(backend, dtype, perm):
    data = rand((2, 3, 4), dtype)
    assert_close(tp.permute(tp.Tensor(data), perm), np.transpose(data, perm), dtype, ulps=0)


@pytest.mark.parametrize("dims", [(0, 1), (0, 2), (-1, -2), (1, 1)])
def test_transpose(backend, dtype, dims):
    data = rand((2, 3, 4), dtype)
    assert_close(tp.transpose(tp.Tensor(data), *dims), np.swapaxes(data, *dims), dtype, ulps=0)


@pytest.mark.parametrize("start, end", [(0, -1), (1, -1), (0, 1), (1, 2), (2, 2), (-2, -1)])
def test_flatten(backend, dtype, start, end):
    data = rand((2, 3, 4), dtype)
    shape = data.shape
    s, e = start % 3, end % 3
    expected = data.reshape(shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :])
    assert_close(tp.flatten(tp.Tensor(data), start, end), expected, dtype, ulps=0)


def test_flatten_defaults_to_everything(backend):
    assert tp.flatten(tp.ones((2, 3, 4))).shape == (24,)
    assert tp.flatten(tp.Tensor(3.0)).shape == (1,)


@pytest.mark.parametrize("dims", [0, (0, 2), -1, (2,)])
def test_squeeze(backend, dtype, dims):
    data = rand((1, 3, 1), dtype)
    assert_close(tp.squeeze(tp.Tensor(data), dims), np.squeeze(data, dims), dtype, ulps=0)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_unsqueeze(backend, dtype, dim):
    data = rand((2, 3), dtype)
    assert_close(tp.unsqueeze(tp.Tensor(data), dim), np.expand_dims(data, dim), dtype, ulps=0)


@pytest.mark.parametrize(
    "src, sizes",
    [((1, 3), (4, 3)), ((1, 3), (4, -1)), ((3,), (2, 3)), ((2, 1, 1), (2, 3, 5)), ((), (2, 2)), ((3, 1), (2, -1, 4))],
)
def test_expand(backend, dtype, src, sizes):
    data = rand(src, dtype)
    full = (1,) * (len(sizes) - len(src)) + src
    shape = tuple(f if n == -1 else n for f, n in zip(full, sizes, strict=True))
    assert_close(tp.expand(tp.Tensor(data), sizes), np.broadcast_to(data, shape), dtype, ulps=0)


@pytest.mark.parametrize("repeats", [0, 1, 3])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_repeat(backend, dtype, repeats, dim):
    data = rand((2, 3), dtype)
    assert_close(tp.repeat(tp.Tensor(data), repeats, dim), np.repeat(data, repeats, dim), dtype, ulps=0)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_concatenate(backend, dtype, dim):
    shapes = [(2, 3), (2, 3), (2, 3)]
    shapes = [tuple(n + i if d == dim % 2 else n for d, n in enumerate(s)) for i, s in enumerate(shapes)]
    parts = [rand(s, dtype, seed=i) for i, s in enumerate(shapes)]
    out = tp.concatenate([tp.Tensor(p) for p in parts], dim)
    assert_close(out, np.concatenate(parts, dim), dtype, ulps=0)
    assert_close(tp.concatenate([tp.Tensor(parts[0])], dim), parts[0], dtype, ulps=0)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(backend, dtype, dim):
    parts = [rand((2, 3), dtype, seed=i) for i in range(3)]
    assert_close(tp.stack([tp.Tensor(p) for p in parts], dim), np.stack(parts, dim), dtype, ulps=0)


@pytest.mark.parametrize("spec, dim", [(2, 0), (4, 1), ([1, 2, 1], 1), ([0, 4], 1), ([2], 0)])
def test_split(backend, dtype, spec, dim):
    data = rand((2, 4), dtype)
    out = tp.split(tp.Tensor(data), spec, dim)
    if isinstance(spec, int):
        expected = np.split(data, spec, dim)
    else:
        expected = np.split(data, np.cumsum(spec)[:-1], dim)
    assert len(out) == len(expected)
    for o, e in zip(out, expected, strict=True):
        assert_close(o, e, dtype, ulps=0)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("index_shape", [(2,), (), (2, 3)])
@pytest.mark.parametrize("index_dtype", [tp.int32, tp.int64])
def test_gather(backend, dtype, dim, index_shape, index_dtype):
    data = rand((3, 4), dtype)
    index = np.random.default_rng(1).integers(0, data.shape[dim], size=index_shape).astype(index_dtype.numpy)
    out = tp.gather(tp.Tensor(data), dim, tp.Tensor(index))
    assert_close(out, np.take(data, index, axis=dim), dtype, ulps=0)


INDICES = [
    (1,),
    (-1,),
    (slice(None),),
    (slice(1, 3),),
    (slice(None, None, -1),),
    (slice(None, None, 2),),
    (slice(3, 0, -2),),
    (slice(-1, -4, -1),),
    (slice(10, None, -3),),
    (slice(5, 1),),
    (0, 2),
    (-1, slice(None, None, -1)),
    (Ellipsis, 1),
    (Ellipsis, slice(None, None, -2)),
    (1, Ellipsis),
    (None,),
    (None, 0),
    (slice(None), None, 1),
    (Ellipsis, None),
    (0, None, Ellipsis, None),
    (slice(1, None), Ellipsis, slice(None, 2)),
    (1, 2, 3),
    (Ellipsis,),
    (slice(None), slice(None, None, -1), 0),
]


@pytest.mark.parametrize("key", INDICES, ids=repr)
def test_indexing_matches_numpy(backend, dtype, key):
    data = rand((3, 4, 5), dtype, seed=7)
    key = key if len(key) > 1 else key[0]
    assert_close(tp.Tensor(data)[key], data[key], dtype, ulps=0)


def test_indexing_with_int_tensor_or_list_gathers_rows(backend):
    data = rand((4, 2), tp.float32)
    out = tp.Tensor(data)[tp.Tensor([3, 0, 3])]
    assert_close(out, data[[3, 0, 3]], tp.float32, ulps=0)
    assert_close(tp.Tensor(data)[[1, -1]], data[[1, -1]], tp.float32, ulps=0)


def test_iteration_yields_rows_and_stops(backend):
    rows = list(tp.Tensor([[1, 2], [3, 4], [5, 6]]))
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]


def test_chained_slices_and_views_compose(backend):
    data = rand((4, 6), tp.float32)
    x = tp.Tensor(data)
    out = tp.transpose(x[1:, ::-2], 0, 1)[..., 1:][None]
    assert_close(out, data[1:, ::-2].T[..., 1:][None], tp.float32, ulps=0)


def test_numpy_integers_work_as_shapes_dims_and_indices(backend):
    n = np.int64(3)
    assert tp.ones((np.int32(2), n)).shape == (2, 3)
    assert tp.reshape(tp.ones((2, 3)), (n, np.int64(-1))).shape == (3, 2)
    x = tp.Tensor([[1, 2, 3], [4, 5, 6]])
    assert x[np.int64(1), np.int32(-1)].tolist() == 6
    assert x[:, np.int64(1) :].tolist() == [[2, 3], [5, 6]]


@st.composite
def index_keys(draw):
    """A shape and a NumPy basic-indexing key for it: slices (any step), ints, None and at most one '...'."""
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    bound = st.one_of(st.none(), st.integers(-7, 7))
    key, dims = [], list(shape)
    ellipsis = draw(st.booleans())
    count = draw(st.integers(0, len(dims)))
    for n in dims[:count]:
        kind = draw(st.sampled_from(["slice", "int", "none"] if n else ["slice", "none"]))
        if kind == "slice":
            key.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, 3, -1, -2, -3]))))
        elif kind == "int":
            key.append(draw(st.integers(-n, n - 1)))
        else:
            key.append(None)
            key.append(slice(None))
    if ellipsis:  # anywhere when the key covers every dimension (it then stands for none), else at the end
        key.insert(draw(st.integers(0, len(key))) if count == len(dims) else len(key), Ellipsis)
    return shape, tuple(key)


def test_random_basic_indexing_matches_numpy(backend):
    @settings(max_examples=80, deadline=None)
    @given(index_keys())
    def check(case):
        shape, key = case
        data = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
        out = tp.Tensor(data)[key]
        expected = data[key]
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected)

    check()
