"""tp.config.backend and the TRIPY_BACKEND environment variable."""

import os
import subprocess
import sys

import pytest

import tripy as tp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TRIPY_BACKEND"}
    environment["PYTHONPATH"] = ROOT + os.pathsep + environment.get("PYTHONPATH", "")
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)


def test_backend_values_and_restore():
    previous = tp.config.backend
    try:
        tp.config.backend = "numpy"
        assert tp.config.backend == "numpy"
        t = tp.ones((2,)) + 1.0
        assert t.device == "cpu:0" and t.tolist() == [2.0, 2.0]
        assert repr(tp.config) == "Config(backend='numpy')"
        tp.config.backend = "auto"
        assert tp.config.backend == "auto"
        assert tp.ones((1,)).device in ("cpu:0", "gpu:0")
    finally:
        tp.config.backend = previous


def test_tensors_made_on_one_backend_keep_their_value_after_a_switch():
    previous = tp.config.backend
    try:
        tp.config.backend = "numpy"
        x = tp.Tensor([1.0, 2.0])
        tp.config.backend = "auto"
        assert (x * 2.0).tolist() == [2.0, 4.0]
    finally:
        tp.config.backend = previous


@pytest.mark.parametrize("bad", ["cdua", "NUMPY", "", None, 3])
def test_unknown_backend_is_rejected_and_the_setting_kept(bad):
    previous = tp.config.backend
    with pytest.raises(
        tp.TripyException,
        match=r"Unknown backend .* for `tp.config.backend`: expected one of "
        r"\('auto', 'numpy', 'cuda'",
    ):
        tp.config.backend = bad
    assert tp.config.backend == previous


def test_environment_variable_sets_the_starting_backend():
    code = "import tripy as tp; print(tp.config.backend, tp.ones((2,)).device)"
    result = run_python(code, TRIPY_BACKEND="numpy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "cpu:0"]
    result = run_python("import tripy as tp; print(tp.config.backend)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "auto"


def test_unknown_backend_in_the_environment_is_a_clear_error():
    result = run_python("import tripy", TRIPY_BACKEND="cdua")
    assert result.returncode != 0
    assert "TripyException" in result.stderr and "Unknown backend 'cdua'" in result.stderr
    assert "Did you mean 'cuda'?" in result.stderr


def test_cuda_backend_runs_on_a_gpu_or_says_why_not():
    from tripy.backend.registry import cuda_usable

    previous = tp.config.backend
    try:
        tp.config.backend = "cuda"
        if cuda_usable():
            assert tp.ones((2,)).device == "gpu:0"
        else:
            with pytest.raises(tp.TripyException, match=r"The 'cuda' backend was requested .* no GPU is usable"):
                tp.ones((2,)).eval()
    finally:
        tp.config.backend = previous
