"""Public tensor operations, one file per family; each is composed from backend primitives."""

from tripy.frontend.ops import (  # noqa: F401 - importing registers the public API
    activations,
    attention,
    cast,
    compare,
    creation,
    cumsum,
    elementwise,
    flip,
    matmul,
    normalization,
    outer,
    pad,
    pooling,
    quantize,
    reduce,
    resize,
    shape,
    topk,
)
