"""tripy: an int8-capable tensor library with lazy evaluation on NumPy, CUDA or TensorRT.

Use it as ``import tripy as tp``. The public API is registered with :func:`tripy.export.public` next to
each op and module, and collected here.
"""

from tripy import compiler as _compiler  # noqa: F401 - registers tp.compile, tp.InputInfo, tp.Executable
from tripy import dtypes as _dtypes
from tripy import stream as _stream  # noqa: F401 - registers tp.Stream, tp.default_stream
from tripy.backend.registry import current_backend
from tripy.config import config
from tripy.dtypes import DataType
from tripy.dtypes import bfloat16 as bfloat16
from tripy.dtypes import bool as bool  # noqa: A004
from tripy.dtypes import float8 as float8
from tripy.dtypes import float16 as float16
from tripy.dtypes import float32 as float32
from tripy.dtypes import floating as floating
from tripy.dtypes import int4 as int4
from tripy.dtypes import int8 as int8
from tripy.dtypes import int32 as int32
from tripy.dtypes import int64 as int64
from tripy.dtypes import integer as integer
from tripy.errors import TripyError, TripyException
from tripy.export import PUBLIC_API as _PUBLIC_API
from tripy.frontend import device as _device  # noqa: F401 - registers tp.device
from tripy.frontend import dimension_size as _dimension_size  # noqa: F401 - registers tp.DimensionSize
from tripy.frontend import modules as _modules  # noqa: F401 - registers the modules
from tripy.frontend import ops as _ops  # noqa: F401 - registers the ops
from tripy.frontend.ops import copy as _copy  # noqa: F401 - registers tp.copy
from tripy.frontend.ops import plugin as _plugin  # noqa: F401 - registers tp.plugin
from tripy.logging import logger
from tripy.tensor import Tensor

globals().update(_PUBLIC_API)

dtype = DataType

__all__ = [
    "config",
    "logger",
    "Tensor",
    "DataType",
    "dtype",
    "TripyException",
    "TripyError",
    *(d.name for d in _dtypes.ALL),
    *(g.name for g in _dtypes.GROUPS),
    *_PUBLIC_API,
]
__version__ = "0.1.0"


def __doc_runner_environment__() -> dict[str, str]:
    """Where tripy evaluates now: the backend and its device. doc_runner shows it under each output and
    keeps stored guide results apart per backend and device."""
    backend = current_backend()
    return {"backend": backend.name, "device": backend.device_description()}
