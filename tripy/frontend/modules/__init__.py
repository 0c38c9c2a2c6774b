"""Modules: ``Module``, ``Parameter`` and the layers built on them."""

from tripy.frontend.modules import (  # noqa: F401 - importing registers the public API
    batchnorm,
    conv,
    embedding,
    groupnorm,
    instancenorm,
    layernorm,
    linear,
    module,
    parameter,
    sequential,
)
