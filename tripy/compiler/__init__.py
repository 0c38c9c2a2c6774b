"""``tp.compile``, ``tp.InputInfo`` and ``tp.Executable``: whole functions compiled to TensorRT engines."""

from tripy.compiler.compile import compile
from tripy.compiler.executable import Executable, TensorRTFallbackWarning
from tripy.compiler.input_info import InputInfo

__all__ = ["compile", "Executable", "InputInfo", "TensorRTFallbackWarning"]
