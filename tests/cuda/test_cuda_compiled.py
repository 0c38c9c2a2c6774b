"""``tp.compile`` on the cuda backend: CUDA graphs replayed per call, equal to eager evaluation.

Integer and quantized results must be identical to eager; float results come from the same kernels on
the same inputs, so they are identical too (the graph replays exactly the launches of an eager run).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from cuda_testing import cuda_backend

import tripy as tp

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def on_cuda():
    previous = tp.config.backend
    tp.config.backend = "cuda"
    yield
    tp.config.backend = previous


def _compile(fn, *infos):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TensorRT cannot run on this GPU: the CUDA-graph path is the point
        return tp.compile(fn, args=list(infos))


def _quantized_linear(k: int, n: int, dtype=tp.float16, input_scale=True):
    rng = np.random.default_rng(0)
    layer = tp.Linear(k, n, dtype=dtype, quant_dtype=tp.int8, weight_quant_dim=0)
    weight = rng.uniform(-1, 1, (n, k)).astype(np.float32)
    layer.weight = tp.Parameter(weight, dtype=dtype)
    layer.bias = tp.Parameter(rng.uniform(-1, 1, (n,)).astype(np.float32), dtype=dtype)
    layer.weight_scale = tp.Parameter((np.abs(weight).max(1) / 127).astype(np.float32))
    if input_scale:
        layer.input_scale = tp.Parameter(np.float32(0.02))
    return layer


FUNCTIONS = {
    "elementwise": (lambda x: tp.gelu(x * 2.0 + 1.0) - tp.exp(-x), tp.float32),
    "reduce and softmax": (lambda x: tp.softmax(x, dim=-1) + tp.mean(x, dim=-1, keepdim=True), tp.float32),
    "layernorm": (lambda x: tp.LayerNorm(64)(x), tp.float32),
    "float16 linear": (lambda x: tp.Linear(64, 48, dtype=tp.float16)(x), tp.float16),
    "int8 linear": (lambda x: _quantized_linear(64, 48)(x), tp.float16),
    "int8 weight-only linear": (lambda x: _quantized_linear(64, 48, input_scale=False)(x), tp.float16),
    "batched matmul": (lambda x: x @ tp.transpose(x, 1, 2), tp.float32),
    "cast and quantize": (lambda x: tp.cast(tp.quantize(x, 0.05, tp.int8), tp.int32), tp.float32),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_compiled_equals_eager(name):
    fn, dtype = FUNCTIONS[name]
    x = tp.Tensor(np.random.default_rng(1).uniform(-2, 2, (2, 8, 64)).astype(np.float32), dtype=dtype)
    expected = fn(x).numpy()
    compiled = _compile(fn, tp.InputInfo((2, 8, 64), dtype))
    assert compiled.backend == "cuda-graph"
    first, second = compiled(x).numpy(), compiled(x).numpy()
    np.testing.assert_array_equal(first, second)  # replays are deterministic
    np.testing.assert_array_equal(first, expected)  # the graph launches the kernels an eager run launches


def test_the_int8_linear_runs_fused_inside_the_graph():
    layer = _quantized_linear(256, 128)
    compiled = _compile(layer, tp.InputInfo((16, 256), tp.float16))
    x = tp.Tensor(np.random.default_rng(2).uniform(-1, 1, (16, 256)).astype(np.float32), dtype=tp.float16)
    fused_before = cuda_backend().int8.stats["fused"]
    out = compiled(x)
    assert cuda_backend().int8.stats["fused"] == fused_before + 2  # the warm-up and the captured run only
    for _ in range(3):
        out = compiled(x)
    assert cuda_backend().int8.stats["fused"] == fused_before + 2  # replays launch the captured kernels
    np.testing.assert_array_equal(out.numpy(), layer(x).numpy())


def test_a_new_shape_bucket_is_captured_again_and_each_keeps_its_results():
    fn = lambda x: tp.sum(x * x, dim=1)  # noqa: E731
    compiled = _compile(fn, tp.InputInfo(((1, 2, 8), 16), tp.float32))
    small = tp.Tensor(np.arange(32, dtype=np.float32).reshape(2, 16))
    large = tp.Tensor(np.arange(128, dtype=np.float32).reshape(8, 16))
    a, b, c = compiled(small), compiled(large), compiled(small)
    np.testing.assert_array_equal(a.numpy(), fn(small).numpy())
    np.testing.assert_array_equal(b.numpy(), fn(large).numpy())
    np.testing.assert_array_equal(c.numpy(), a.numpy())


def test_outputs_are_not_overwritten_by_later_calls():
    compiled = _compile(lambda x: x + 1.0, tp.InputInfo((4,), tp.float32))
    first = compiled(tp.Tensor([1.0, 2.0, 3.0, 4.0]))
    compiled(tp.Tensor([10.0, 20.0, 30.0, 40.0]))
    assert first.tolist() == [2.0, 3.0, 4.0, 5.0]


def _lent_pointer(compiled) -> int:
    (graph,) = compiled.cuda_graphs.values()
    return graph.lent_buffers[0].data.ptr if graph.lent_buffers else -1


def test_an_output_dropped_before_the_next_call_is_lent_again_without_a_copy():
    compiled = _compile(lambda x: x * 3.0, tp.InputInfo((4,), tp.float32))
    for i in range(3):
        out = compiled(tp.Tensor([1.0, 2.0, 3.0, float(i)]))
        assert out.tolist() == [3.0, 6.0, 9.0, 3.0 * i]
        assert out.value.data.ptr == _lent_pointer(compiled)  # the graph's own buffer, no copy
        del out


def test_an_output_kept_by_its_tensor_alone_is_given_a_copy_before_the_next_replay():
    compiled = _compile(lambda x: x * 3.0, tp.InputInfo((4,), tp.float32))
    kept = [compiled(tp.Tensor([float(i)] * 4)) for i in range(4)]
    assert [t.tolist() for t in kept] == [[3.0 * i] * 4 for i in range(4)]
    assert sum(t.value.data.ptr == _lent_pointer(compiled) for t in kept) == 1  # the last one only
    assert _lent_pointer(compiled) != -1  # still lending


def test_an_output_held_elsewhere_is_never_overwritten():
    """A view of a lent output, a tensor made from its value, or a DLPack export hold its memory: the
    graph is captured again with outputs copied out, and the held values stay as they were."""
    import cupy

    compiled = _compile(lambda x: x + 1.0, tp.InputInfo((4,), tp.float32))
    first = compiled(tp.Tensor([1.0, 2.0, 3.0, 4.0]))
    view = first.value[1:]
    alias = tp.Tensor(first)
    exported = cupy.from_dlpack(first)
    compiled(tp.Tensor([10.0, 20.0, 30.0, 40.0]))
    assert view.tolist() == [3.0, 4.0, 5.0] and alias.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert exported.tolist() == [2.0, 3.0, 4.0, 5.0] and first.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert _lent_pointer(compiled) == -1  # captured again, not lending
    assert compiled(tp.Tensor([0.0, 0.0, 0.0, 1.0])).tolist() == [1.0, 1.0, 1.0, 2.0]


def test_a_lent_output_fed_back_as_the_next_input():
    compiled = _compile(lambda x: x * 2.0 + 1.0, tp.InputInfo((3,), tp.float32))
    y = tp.Tensor([0.0, 1.0, 2.0])
    expected = np.array([0.0, 1.0, 2.0], np.float32)
    history = []
    for _ in range(5):
        y = compiled(y)
        expected = expected * 2 + 1
        history.append((y, expected.copy()))
    for tensor, values in history:
        np.testing.assert_array_equal(tensor.numpy(), values)


def test_a_lent_output_read_later_by_a_lazy_op_reads_its_own_values():
    compiled = _compile(lambda x: x - 1.0, tp.InputInfo((2,), tp.float32))
    pending = [compiled(tp.Tensor([float(i), 10.0])) * 2.0 + 1.0 for i in range(6)]  # not evaluated yet
    assert [p.tolist() for p in pending] == [[2.0 * (i - 1) + 1.0, 19.0] for i in range(6)]


def test_shapes_outside_the_ranges_are_a_clear_error():
    compiled = _compile(lambda x: x * 2.0, tp.InputInfo(((1, 2, 4), 8), tp.float32))
    with pytest.raises(tp.TripyException, match="compiled for shapes"):
        compiled(tp.ones((5, 8)))


def test_ten_thousand_calls_do_not_grow_memory():
    import cupy

    layer = _quantized_linear(128, 64)
    compiled = _compile(layer, tp.InputInfo((4, 128), tp.float16))
    x = tp.Tensor(np.ones((4, 128), np.float32), dtype=tp.float16)
    pool = cupy.get_default_memory_pool()
    for _ in range(100):
        compiled(x)
    cupy.cuda.Device().synchronize()
    used = pool.used_bytes()
    for _ in range(10_000):
        out = compiled(x)
    cupy.cuda.Device().synchronize()
    del out
    assert pool.used_bytes() <= used + (1 << 16)


def test_switching_cuda_graphs_off_runs_eagerly(monkeypatch):
    monkeypatch.setenv("TRIPY_CUDA_GRAPHS", "0")
    compiled = _compile(lambda x: x - 1.0, tp.InputInfo((3,), tp.float32))
    assert compiled.backend == "cuda"
    assert compiled(tp.Tensor([1.0, 2.0, 3.0])).tolist() == [0.0, 1.0, 2.0]


def _cache_step(cache, update, position):
    return tp.update_slice(cache, update, position, dim=1), position + 1


def _donating(fn, *infos, donate):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tp.compile(fn, args=list(infos), donate=donate)


def test_a_donated_cache_is_updated_in_place_and_passed_back_without_copies():
    import cupy

    infos = [tp.InputInfo((3, 8), tp.float16), tp.InputInfo((3, 1), tp.float16), tp.InputInfo((1,), tp.int32)]
    exe = _donating(_cache_step, *infos, donate=["cache", "position"])
    cache, position = tp.zeros((3, 8), dtype=tp.float16), tp.Tensor(np.zeros(1, np.int32))
    expected = np.zeros((3, 8), np.float16)
    pointers = set()
    for p in range(8):
        cache, position = exe(cache, tp.ones((3, 1), dtype=tp.float16) * float(p + 1), position)
        pointers.add(cache.value_on(cuda_backend()).data.ptr)
        expected[:, p] = p + 1
    assert pointers == {next(iter(exe._captured.values())).inputs[0].data.ptr}  # one buffer, the graph's own
    assert np.array_equal(cupy.asnumpy(cache.value_on(cuda_backend())), expected)
    assert np.from_dlpack(tp.copy(position, tp.device("cpu"))).tolist() == [8]
    assert next(iter(exe._captured.values())).in_place == 1  # the cache in place; the position copied back


def test_a_donated_output_that_is_not_an_update_is_copied_back_inside_the_graph():
    exe = _donating(lambda state: state * 2.0 + 1.0, tp.InputInfo((4,), tp.float32), donate=["state"])
    state = tp.zeros((4,))
    for _ in range(5):
        state = exe(state)
    assert np.from_dlpack(tp.copy(state, tp.device("cpu"))).tolist() == [31.0] * 4


def test_static_cache_decode_steps_in_graphs_equal_eager_steps():
    """A GPT-2 block's static-cache step: compiled (graphs, in-place cache writes) against eager, exactly."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "nanogpt"))
    from model import GPT, GPTConfig, StaticDecoder

    config = GPTConfig(n_layer=2, n_head=4, n_embd=64, vocab_size=128, block_size=64, dtype=tp.float16)
    model = GPT(config)
    rng = np.random.default_rng(0)
    model.load_state_dict(
        {
            name: tp.Parameter(rng.normal(0, 0.2, param.shape).astype(np.float32), dtype=param.dtype)
            for name, param in model.named_parameters()
        }
    )
    prompt = rng.integers(0, 128, (2, 6)).astype(np.int32)
    eager = StaticDecoder(model, 2, 6, 24, compiled=False).generate(prompt, 10)
    compiled = _quiet(lambda: StaticDecoder(model, 2, 6, 24, compiled=True).generate(prompt, 10))
    assert compiled.tolist() == eager.tolist()


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def test_results_kept_across_calls_are_not_overwritten_by_the_graphs_temporaries():
    """Kernels that free temporaries during capture (here the steps of a bfloat16 LayerNorm, which has no
    kernel of its own) must not let a returned result take that memory: the next replay writes it."""
    weight, bias = tp.ones((64,), dtype=tp.bfloat16), tp.zeros((64,), dtype=tp.bfloat16)
    fn = _compile(lambda x: tp.layer_norm(x, weight, bias) * 2.0, tp.InputInfo((8, 64), tp.bfloat16))
    rng = np.random.default_rng(0)
    inputs = [tp.Tensor(rng.normal(0, 1, (8, 64)).astype(np.float32), dtype=tp.bfloat16) for _ in range(6)]
    results = [fn(x) for x in inputs]  # all kept: each later replay must leave the earlier ones alone
    for x, out in zip(inputs, results):
        expected = tp.cast(tp.layer_norm(x, weight, bias) * 2.0, tp.float32).numpy()
        assert np.array_equal(tp.cast(out, tp.float32).numpy(), expected)
