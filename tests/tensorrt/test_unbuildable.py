"""A function TensorRT cannot build still compiles: it runs on the eager backend (CUDA graphs on a GPU),
with the reason TensorRT gave, instead of failing ``tp.compile``."""

from __future__ import annotations

import numpy as np
import pytest

import tripy as tp
from tripy.compiler import TensorRTFallbackWarning


def test_an_int8_convolution_that_tensorrt_refuses_still_runs(trt):
    # im2col with quantized operands multiplies int32 matrices, which TensorRT's matrix multiply refuses.
    conv = tp.Conv(3, 4, (3, 3), quant_dtype=tp.int8, weight_quant_dim=0)
    conv.weight_scale = tp.Parameter(np.full((4,), 0.05, np.float32))
    conv.input_scale = tp.Parameter(0.1)
    compiled = tp.compile(conv, args=[tp.InputInfo((1, 3, 8, 8), tp.float32)])
    assert compiled.engine is None
    assert compiled.fallback_reason.startswith("TensorRT could not build an engine for this function (")
    x = tp.iota((1, 3, 8, 8)) / 10.0
    with pytest.warns(TensorRTFallbackWarning, match="TensorRT could not build an engine"):
        out = compiled(x)
    assert tp.equal(out, conv(x))
