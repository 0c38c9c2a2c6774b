"""``tp.Executable``: calling with checked arguments, the eager fallback, save/load and the engine cache."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from trt_checks import assert_same_as_eager, compile_quietly, run_quietly

import tripy as tp
from tripy.backend.tensorrt.engine import check_engine
from tripy.compiler import TensorRTFallbackWarning, executable


def scaled_sum(x, y):
    return tp.sum(x * y, dim=1) + 1.0


ARGS = [tp.InputInfo(((1, 2, 8), 3), tp.float32), tp.InputInfo(((1, 2, 8), 3), tp.float32)]


def test_fallback_warns_once_naming_the_reason_and_matches_eager(trt):
    exe = tp.compile(scaled_sum, args=ARGS)
    if exe.backend == "tensorrt":
        pytest.skip("the engine runs on this machine: no fallback to check")
    assert exe.backend == "numpy" and exe.fallback_reason
    x, y = tp.iota((4, 3)), tp.ones((4, 3))
    with pytest.warns(TensorRTFallbackWarning, match="cannot run here") as record:
        out = exe(x, y)
    assert exe.fallback_reason in str(record[0].message)
    assert record[0].filename == __file__  # points at the user's call
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exe(x, y)  # said once only
    np.testing.assert_array_equal(out.numpy(), scaled_sum(x, y).numpy())


def test_without_tensorrt_the_trace_runs_eagerly(monkeypatch):
    monkeypatch.setattr(executable, "load_tensorrt", lambda: None)
    exe = tp.compile(scaled_sum, args=ARGS)
    assert exe.engine is None and exe.backend == "numpy"
    assert exe.fallback_reason == "TensorRT is not installed"
    with pytest.warns(TensorRTFallbackWarning, match="TensorRT is not installed"):
        out = exe(tp.iota((2, 3)), tp.iota((2, 3), dim=1))
    np.testing.assert_array_equal(out.numpy(), scaled_sum(tp.iota((2, 3)), tp.iota((2, 3), dim=1)).numpy())


def test_save_and_load_round_trip(trt, tmp_path):
    linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([0.5, 1.0])
    linear.input_scale = tp.Parameter(0.25)
    exe = compile_quietly(linear, [tp.InputInfo(((1, 3, 5), 4), tp.float32)])
    path = tmp_path / "linear.tpexe"
    exe.save(path)

    loaded = tp.Executable.load(path)
    assert loaded.engine == exe.engine and loaded.engine_tensorrt == exe.engine_tensorrt
    assert loaded.graph.fingerprint() == exe.graph.fingerprint()
    assert loaded.input_infos == exe.input_infos
    assert check_engine(trt, loaded.engine).ok
    for batch in (1, 5):
        x = tp.iota((batch, 4)) - 2.0
        np.testing.assert_array_equal(run_quietly(loaded, x).numpy(), run_quietly(exe, x).numpy())
        assert_same_as_eager(loaded, linear, x)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "not-an-executable"
    path.write_bytes(b"hello")
    with pytest.raises(tp.TripyException, match="not a file written by Executable.save"):
        tp.Executable.load(path)
    with pytest.raises(tp.TripyException, match="cannot read"):
        tp.Executable.load(tmp_path / "missing")


def test_engine_cache_reuses_engines_by_graph_and_ranges(trt, engine_cache):
    first = compile_quietly(scaled_sum, ARGS)
    assert not first.from_cache and first.build_seconds is not None
    assert len(list(engine_cache.glob("*.engine"))) == 1

    again = compile_quietly(scaled_sum, ARGS)
    assert again.from_cache and again.engine == first.engine

    other_ranges = [tp.InputInfo(((1, 2, 16), 3), tp.float32)] * 2
    assert not compile_quietly(scaled_sum, other_ranges).from_cache
    assert not compile_quietly(lambda x, y: tp.sum(x * y, dim=1) + 2.0, ARGS).from_cache
    assert len(list(engine_cache.glob("*.engine"))) == 3


def test_damaged_cache_entry_is_rebuilt(trt, engine_cache):
    first = compile_quietly(scaled_sum, ARGS)
    (entry,) = engine_cache.glob("*.engine")
    entry.write_bytes(first.engine[: len(first.engine) // 2])
    rebuilt = compile_quietly(scaled_sum, ARGS)
    assert not rebuilt.from_cache and rebuilt.engine == entry.read_bytes()


def test_engine_check_detects_damage(trt):
    exe = compile_quietly(scaled_sum, ARGS)
    assert check_engine(trt, exe.engine).ok
    assert not check_engine(trt, b"\0" * len(exe.engine)).ok
    truncated = check_engine(trt, exe.engine[:-100])
    assert not truncated.ok


# -- errors -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, dtype, message",
    [
        ((2, 3), "float32", "`dtype` of tp.InputInfo must be a tripy data type"),
        (3, tp.float32, "`shape` of tp.InputInfo must be a tuple"),
        ((2, -1), tp.float32, "Dimension 1 of `shape` of tp.InputInfo is -1"),
        (((1, 2), 3), tp.float32, r"a dynamic dimension is a \(min, opt, max\) tuple"),
        (((4, 2, 8), 3), tp.float32, r"needs 0 <= min <= opt <= max"),
        ((2.5, 3), tp.float32, "expected an int or a"),
    ],
)
def test_bad_input_info(shape, dtype, message):
    with pytest.raises(tp.TripyException, match=message) as info:
        tp.InputInfo(shape, dtype)
    assert __file__ in str(info.value)  # the message points at the user's line


def test_bad_compile_arguments():
    with pytest.raises(tp.TripyException, match=r"`args\[1\]` \(for `y`\) must be a tp.InputInfo"):
        tp.compile(scaled_sum, args=[ARGS[0], (2, 3)])
    with pytest.raises(tp.TripyException, match="do not fit the signature"):
        tp.compile(scaled_sum, args=ARGS[:1])
    with pytest.raises(tp.TripyException, match="must be a function or a tp.Module"):
        tp.compile(42, args=[])


def test_function_that_needs_input_values():
    def prints(x):
        print(x)
        return x

    with pytest.raises(tp.TripyException, match="needs the value of an input while it is traced"):
        tp.compile(prints, args=[tp.InputInfo((2,), tp.float32)])


@pytest.fixture
def exe():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TensorRTFallbackWarning)
        yield tp.compile(scaled_sum, args=ARGS)


def test_call_with_wrong_shape_names_the_argument(exe):
    y = tp.ones((2, 4))
    with pytest.raises(
        tp.TripyException,
        match=r"Argument `y` .* has shape \(2, 4\), but it was compiled for "
        r"shapes \(1..8, 3\)",
    ) as info:
        exe(tp.ones((2, 3)), y)
    assert "`y` was created at" in str(info.value) and "y = tp.ones((2, 4))" in str(info.value)
    with pytest.raises(tp.TripyException, match=r"Argument `x` .* has shape \(9, 3\)"):
        exe(tp.ones((9, 3)), tp.ones((9, 3)))
    with pytest.raises(tp.TripyException, match=r"Argument `x` .* has shape \(3,\)"):
        exe(tp.ones((3,)), tp.ones((2, 3)))


def test_call_with_wrong_dtype_count_or_type(exe):
    with pytest.raises(tp.TripyException, match="Argument `x` .* must have dtype float32 .* it has dtype int32"):
        exe(tp.ones((2, 3), dtype=tp.int32), tp.ones((2, 3)))
    with pytest.raises(tp.TripyException, match=r"takes 2 positional argument\(s\) but got 1 \(its inputs: `x`, `y`\)"):
        exe(tp.ones((2, 3)))
    with pytest.raises(tp.TripyException, match="Argument `y` of the compiled function must be a tp.Tensor, not list"):
        exe(tp.ones((2, 3)), [[1.0, 2.0, 3.0]])
    with pytest.raises(tp.TripyException, match="compiled with keyword argument"):
        exe(tp.ones((2, 3)), tp.ones((2, 3)), z=tp.ones((2, 3)))


def test_dimensions_traced_as_one_must_be_equal(exe):
    # x * y needs equal batch sizes, so the two dynamic dimensions were traced as one.
    assert exe.graph.symbols == [((0, 0), (1, 0))]
    with pytest.raises(tp.TripyException, match="needs equal sizes for dimension 0 of `x`, dimension 0 of `y`"):
        exe(tp.ones((2, 3)), tp.ones((3, 3)))


def test_keyword_arguments_and_tuple_outputs(trt):
    def f(x, *, bias):
        return x + bias, x * 2.0

    exe = compile_quietly(f, [tp.InputInfo((2, 2), tp.float32)], {"bias": tp.InputInfo((1, 2), tp.float32)})
    out = run_quietly(exe, tp.ones((2, 2)), bias=tp.Tensor([[1.0, 2.0]]))
    assert isinstance(out, tuple) and out[0].tolist() == [[2.0, 3.0], [2.0, 3.0]]
    assert out[1].tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_describe_lists_the_network(trt):
    linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([0.5, 1.0])
    exe = compile_quietly(linear, [tp.InputInfo(((1, 3, 5), 4), tp.float32)])
    lines = exe.describe().splitlines()
    assert any("DEQUANTIZE" in line and "axis=0" in line for line in lines)
    assert any(line.split()[1:3] == ["CONSTANT", "int8"] for line in lines)
    assert any("MATRIX_MULTIPLY" in line and "(-1, 2)" in line for line in lines)


def test_describe_without_tensorrt(monkeypatch):
    monkeypatch.setattr(executable, "load_tensorrt", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TensorRTFallbackWarning)
        exe = tp.compile(scaled_sum, args=ARGS)
    assert "TensorRT is not installed" in exe.describe()


class _FakeCupy:
    """Just enough of CuPy to report one GPU of a given compute capability."""

    def __init__(self, name: bytes, major: int, minor: int) -> None:
        props = {"name": name, "major": major, "minor": minor}

        class Runtime:
            @staticmethod
            def getDeviceCount():
                return 1

            @staticmethod
            def getDeviceProperties(device):
                return props

        class Device:
            id = 0

        class Cuda:
            runtime = Runtime

        Cuda.Device = Device
        self.cuda = Cuda


def test_tensorrt_rtx_refuses_hopper_and_says_so(trt, monkeypatch):
    from tripy.backend.tensorrt import is_rtx
    from tripy.backend.tensorrt.engine import EngineRunner, EngineUnavailable

    if not is_rtx(trt):
        pytest.skip("the refusal of compute capability 9.0 is TensorRT-RTX's")
    exe = compile_quietly(scaled_sum, ARGS)
    monkeypatch.setitem(__import__("sys").modules, "cupy", _FakeCupy(b"NVIDIA H100 80GB HBM3", 9, 0))
    with pytest.raises(
        EngineUnavailable,
        match=r"does not run engines on NVIDIA H100 80GB HBM3 \(compute "
        r"capability 9.0\); it supports 8.0, 8.6, 8.9 and 12.x",
    ):
        EngineRunner(trt, exe.engine)
    hopper = tp.Executable(exe.graph, exe.engine, exe.engine_tensorrt)
    assert hopper.backend == "numpy" and "compute capability 9.0" in hopper.fallback_reason


def test_no_visible_gpu_is_a_reason_too(trt, monkeypatch):
    from tripy.backend.tensorrt.engine import EngineRunner, EngineUnavailable

    fake = _FakeCupy(b"none", 0, 0)
    fake.cuda.runtime.getDeviceCount = staticmethod(lambda: 0)
    monkeypatch.setitem(__import__("sys").modules, "cupy", fake)
    exe = compile_quietly(scaled_sum, ARGS)
    with pytest.raises(EngineUnavailable, match="no CUDA GPU is visible"):
        EngineRunner(trt, exe.engine)


def test_a_supported_gpu_that_fails_to_load_the_engine_is_a_reason(trt, monkeypatch):
    from tripy.backend.tensorrt.engine import EngineRunner, EngineUnavailable

    exe = compile_quietly(scaled_sum, ARGS)
    if exe.backend == "tensorrt":
        pytest.skip("a real GPU runs the engine here")
    # CuPy claims an Ada GPU (8.9), but there is no CUDA driver: TensorRT cannot deserialize the engine.
    monkeypatch.setitem(__import__("sys").modules, "cupy", _FakeCupy(b"NVIDIA L4", 8, 9))
    with pytest.raises(EngineUnavailable, match="TensorRT refused to load the engine on NVIDIA L4"):
        EngineRunner(trt, exe.engine)


@pytest.mark.parametrize(
    "func, infos",
    [
        (lambda x, y: x * 2.0, [tp.InputInfo((2,), tp.float32), tp.InputInfo((3,), tp.float32)]),  # unused input
        (lambda x: tp.ones((2, 2)), [tp.InputInfo((2,), tp.float32)]),  # output made of constants only
        (lambda x: (x, x), [tp.InputInfo(((1, 2, 3),), tp.float32)]),  # inputs returned as they are
    ],
    ids=["unused-input", "constant-output", "identity-outputs"],
)
def test_degenerate_functions_build(trt, func, infos):
    exe = compile_quietly(func, infos)
    assert check_engine(trt, exe.engine).ok
    inputs = [tp.ones(tuple(r[1] for r in info.ranges)) for info in infos]
    assert_same_as_eager(exe, func, *inputs)


def test_loading_a_file_saved_without_tensorrt_builds_the_engine(trt, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(executable, "load_tensorrt", lambda: None)
        without = tp.compile(scaled_sum, args=ARGS)
    assert without.engine is None
    without.save(tmp_path / "f.tpexe")
    loaded = tp.Executable.load(tmp_path / "f.tpexe")
    assert loaded.engine is not None and check_engine(trt, loaded.engine).ok
    assert loaded.engine_tensorrt == f"{trt.__name__} {trt.__version__}"
