"""On a GPU machine: the engine runs where TensorRT supports the GPU, and the fallback says why where not.

Marked ``gpu``; skipped without CuPy and a visible GPU. On an NVIDIA H100/H200 (compute capability 9.0)
TensorRT-RTX refuses to run engines: there the test checks that the executable says so and runs the
trace on the ``cuda`` backend with the eager results.
"""

from __future__ import annotations

import numpy as np
import pytest
from trt_checks import compile_quietly, run_quietly

import tripy as tp
from tripy.backend.tensorrt import is_rtx


@pytest.mark.gpu
def test_compiled_quantized_linear_on_this_gpu(trt):
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("no GPU")
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip("no GPU")
    from tripy.backend.tensorrt.engine import RTX_COMPUTE_CAPABILITIES, _gpu_name_and_cc

    name, cc = _gpu_name_and_cc()
    tp.config.backend = "cuda"
    linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([0.5, 1.0])
    linear.input_scale = tp.Parameter(0.25)
    exe = compile_quietly(linear, [tp.InputInfo(((1, 3, 8), 4), tp.float32)])
    x = tp.iota((5, 4)) * 0.3 - 1.0
    out = run_quietly(exe, x)
    expected = linear(x).numpy()
    if is_rtx(trt) and cc not in RTX_COMPUTE_CAPABILITIES:
        assert exe.backend == "cuda"
        assert f"{name} (compute capability {cc[0]}.{cc[1]})" in exe.fallback_reason
        np.testing.assert_array_equal(out.numpy(), expected)
    else:
        assert exe.backend == "tensorrt", exe.fallback_reason
        assert out.device.startswith("gpu")
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)
