"""Building serialized TensorRT engines, checking them without a GPU, and running them on one.

A serialized engine can only be fully loaded (``IRuntime.deserialize_cuda_engine``) where a GPU that
can run it is present. Without one, :func:`check_engine` checks what can be checked on the host: the
plan's header names a plan this TensorRT wrote (``IRuntime.get_engine_validity`` finds no malformed
header and no version mismatch) and, for TensorRT-RTX plans, the total size the header records (an
undocumented field, seen in 1.7) is the size of the blob, which catches truncation.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tripy.backend.tensorrt import is_rtx
from tripy.backend.tensorrt.network import LoweredNetwork, collecting_logger
from tripy.errors import raise_error

#: The first bytes of a TensorRT-RTX plan.
_RTX_PLAN_MAGIC = b"vtrt"
#: Compute capabilities whose GPUs TensorRT-RTX runs engines on.
RTX_COMPUTE_CAPABILITIES = ((8, 0), (8, 6), (8, 9), (12, 0), (12, 1))


@dataclass
class BuiltEngine:
    """A serialized engine and how long building it took."""

    blob: bytes
    build_seconds: float


def build_engine(lowered: LoweredNetwork) -> BuiltEngine:
    """Build and serialize the engine of a lowered network (works without a GPU with TensorRT-RTX)."""
    start = time.perf_counter()
    serialized = lowered.builder.build_serialized_network(lowered.network, lowered.config)
    seconds = time.perf_counter() - start
    if serialized is None:
        errors = "\n  ".join(lowered.logger.errors()[-5:]) or "(TensorRT gave no reason)"
        raise_error(f"tp.compile: TensorRT could not build an engine for this function:\n  {errors}")
    return BuiltEngine(bytes(serialized), seconds)


@dataclass
class EngineCheck:
    """What was verified about a serialized engine on this machine."""

    #: The header is a plan of this TensorRT: no malformed header, no version mismatch.
    header_ok: bool
    #: For TensorRT-RTX plans: the total size recorded in the header equals the blob's size (None: not checked).
    size_ok: bool | None
    #: Whether the engine was deserialized (needs a GPU that can run it); None when that was not tried.
    deserialized: bool | None
    #: The diagnostics TensorRT reported, by name.
    diagnostics: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.header_ok and self.size_ok is not False and self.deserialized is not False


def check_engine(trt: ModuleType, blob: bytes, deserialize: bool = False) -> EngineCheck:
    """Check a serialized engine as far as this machine allows (see the module docstring)."""
    logger = collecting_logger(trt)
    runtime = trt.Runtime(logger)
    diagnostics: tuple[str, ...] = ()
    header_ok = len(blob) >= getattr(runtime, "engine_header_size", 0)
    if hasattr(runtime, "get_engine_validity"):
        _validity, bits = runtime.get_engine_validity(blob)
        flags = trt.EngineInvalidityDiagnostics
        diagnostics = tuple(name for name, flag in flags.__members__.items() if int(bits) & int(flag))
        header_ok = header_ok and not ({"MALFORMED_ENGINE", "VERSION_MISMATCH"} & set(diagnostics))
    size_ok = None
    if is_rtx(trt) and blob[:4] == _RTX_PLAN_MAGIC and len(blob) >= 24:
        # Seen in TensorRT-RTX 1.7 plans (not documented): a little-endian u64 total size at byte 16.
        size_ok = struct.unpack_from("<Q", blob, 16)[0] == len(blob)
    deserialized = None
    if deserialize:
        deserialized = runtime.deserialize_cuda_engine(blob) is not None
    return EngineCheck(header_ok, size_ok, deserialized, diagnostics)


class EngineUnavailable(Exception):
    """The engine cannot run here; the message says why (shown in the fallback warning)."""


def _gpu_name_and_cc() -> tuple[str, tuple[int, int]]:
    import cupy

    device = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(device.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return name, (int(props["major"]), int(props["minor"]))


class EngineRunner:
    """A deserialized engine and an execution context, run with CuPy device buffers."""

    def __init__(self, trt: ModuleType, blob: bytes) -> None:
        try:
            import cupy
        except ImportError:
            raise EngineUnavailable("CuPy is not installed, so no GPU can be used") from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception:
            count = 0
        if count == 0:
            raise EngineUnavailable("no CUDA GPU is visible")
        name, cc = _gpu_name_and_cc()
        if is_rtx(trt) and cc not in RTX_COMPUTE_CAPABILITIES:
            raise EngineUnavailable(
                f"TensorRT-RTX does not run engines on {name} (compute capability {cc[0]}.{cc[1]}); it supports "
                "8.0, 8.6, 8.9 and 12.x"
            )
        self.trt, self.cupy = trt, cupy
        self.logger = collecting_logger(trt)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(blob)
        if self.engine is None:
            reason = "; ".join(self.logger.errors()[-2:]) or "no reason given"
            raise EngineUnavailable(f"TensorRT refused to load the engine on {name}: {reason}")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.output_names = sorted(
            (n for n in names if self.engine.get_tensor_mode(n) != mode), key=lambda n: int(n.rsplit("_", 1)[1])
        )

    def run(self, inputs: dict[str, Any], output_dtypes: list[Any]) -> list[Any]:
        """Run with ``inputs`` (name -> contiguous CuPy array); returns CuPy arrays of ``output_dtypes``."""
        cupy, context = self.cupy, self.context
        for name, array in inputs.items():
            context.set_input_shape(name, tuple(array.shape))
            context.set_tensor_address(name, array.data.ptr)
        outputs = []
        for name, dtype in zip(self.output_names, output_dtypes):
            shape = tuple(context.get_tensor_shape(name))
            out = cupy.empty(shape, dtype=dtype)
            context.set_tensor_address(name, out.data.ptr)
            outputs.append(out)
        cupy.cuda.get_current_stream().synchronize()  # the inputs may still be being computed
        stream = cupy.cuda.Stream(non_blocking=True)
        if not context.execute_async_v3(stream.ptr):
            raise RuntimeError("; ".join(self.logger.errors()[-2:]) or "TensorRT execution failed")
        stream.synchronize()
        return outputs
