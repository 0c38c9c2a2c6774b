"""Modules: ``Module``, ``Parameter`` and the layers built on them."""

from tripy.frontend.modules import embedding, layernorm, linear, module, parameter, sequential  # noqa: F401
