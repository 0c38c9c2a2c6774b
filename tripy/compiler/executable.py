"""``tp.Executable``: a compiled function, run by its TensorRT engine or, where that cannot run, eagerly."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tripy.backend.registry import current_backend, get_backend
from tripy.backend.tensorrt import load_tensorrt, tensorrt_version
from tripy.compiler import cache
from tripy.compiler.graph import Graph
from tripy.compiler.input_info import DimensionInputInfo
from tripy.compiler.serialize import DamagedFile, UnsupportedVersion, read_archive, write_archive
from tripy.errors import TripyException, raise_error
from tripy.export import public
from tripy.frontend.dimension_size import DimensionSize
from tripy.stream import Stream, default_stream
from tripy.tensor import Tensor
from tripy.trace.evaluate import evaluate

#: The first bytes of the pickle files that earlier versions of ``save`` wrote (refused by ``load``).
_PICKLE_MAGIC = b"TRIPY-EXECUTABLE\n"
_warned: set[str] = set()
#: TensorRT's names of data types, as tripy spells them.
_TRT_TYPE_NAMES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "FP8": "float8"}


def cuda_graphs_enabled() -> bool:
    """Whether compiled functions on the cuda backend replay CUDA graphs (``TRIPY_CUDA_GRAPHS=0`` turns it off)."""
    return os.environ.get("TRIPY_CUDA_GRAPHS", "1") != "0"


def _size_carrier(name: str, info: DimensionInputInfo, value: Any) -> Tensor:
    """The run-time stand-in of a size argument: an int32 tensor whose length is the size (the graph, the
    engine's profile and the symbol checks read sizes from shapes)."""
    size = value.size if isinstance(value, DimensionSize) else value
    if isinstance(size, bool) or not isinstance(size, int):
        raise_error(
            f"Argument `{name}` of the compiled function is a size (tp.DimensionInputInfo): pass a tp.DimensionSize "
            f"or an int, not {type(value).__name__}."
        )
    if not info.accepts_value(size):
        lo, _, hi = info.ranges[0]
        raise_error(f"Argument `{name}` of the compiled function is {size}, but it was compiled for sizes {lo}..{hi}.")
    return Tensor(np.zeros(size, np.int32))


class TensorRTFallbackWarning(UserWarning):
    """A compiled function runs on the eager backend because its TensorRT engine cannot run here."""


def _warn_once(reason: str, backend: str) -> None:
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(
        f"tp.compile: the TensorRT engine cannot run here ({reason}); compiled functions run the same trace "
        f"on the '{backend}' backend instead{' (replayed as CUDA graphs)' if backend == 'cuda' else ''}, with the "
        "same results.",
        TensorRTFallbackWarning,
        stacklevel=4,  # the user's call of the Executable
    )


@public
class Executable:
    """A function compiled by :func:`tripy.compile`: call it with tensors matching its ``tp.InputInfo`` s.

    ``backend`` says what runs it: ``"tensorrt"`` (the engine); where the engine cannot run (no TensorRT,
    no GPU, or a GPU TensorRT refuses), ``"cuda-graph"`` on the cuda backend (the trace planned once per
    input shapes and replayed as a CUDA graph: :mod:`tripy.compiler.cuda_graph`), else the eager backend
    (``"numpy"``); a warning says so once. :meth:`save` and :meth:`load` keep both the engine and the trace.
    """

    def __init__(
        self,
        graph: Graph,
        engine: bytes | None,
        engine_tensorrt: str | None,
        build_seconds: float | None = None,
        from_cache: bool = False,
        unbuilt_reason: str | None = None,
    ) -> None:
        self._graph = graph
        #: The serialized TensorRT engine, as bytes (None where TensorRT is not installed): what TensorRT's
        #: ``IRuntime.deserialize_cuda_engine`` reads, and what :meth:`save` stores as ``engine.trt``.
        self.engine = engine
        #: The TensorRT that built the engine (``"tensorrt_rtx_bindings 1.7.1.116"``).
        self.engine_tensorrt = engine_tensorrt
        #: Seconds spent building the engine (None when it came from the cache or a file).
        self.build_seconds = build_seconds
        self.from_cache = from_cache
        self._runner: Any = None  # an EngineRunner where the engine runs here
        self._stream: Stream | None = None
        self._fallback_reason: str | None = None
        self._constants: dict[str, list[Any]] = {}
        #: On the cuda backend: each bucket of input shapes, captured as a CUDA graph (None: runs eagerly).
        self._captured: dict[tuple, Any] = {}
        self._positional_count = sum(not a.keyword for a in graph.args)
        self._keyword_names = {a.name for a in graph.args if a.keyword}
        self._choose_runner(unbuilt_reason)

    # -- building --------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, graph: Graph) -> Executable:
        """Build (or fetch from the engine cache) the engine of ``graph``."""
        trt = load_tensorrt()
        if trt is None:
            return cls(graph, None, None)
        from tripy.backend.tensorrt.engine import build_engine, check_engine
        from tripy.backend.tensorrt.network import lower_graph

        version = tensorrt_version()
        assert version is not None  # TensorRT is installed
        key = cache.engine_key(graph.fingerprint(), version)
        blob = cache.load_engine(key)
        if blob is not None and check_engine(trt, blob).ok:
            return cls(graph, blob, version, None, from_cache=True)
        try:
            built = build_engine(lower_graph(trt, graph))
        except TripyException as exc:  # a function TensorRT cannot take still runs: eagerly, or as CUDA graphs
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = lines[0].removeprefix("tp.compile: ").rstrip(":") + (f" ({lines[1]})" if len(lines) > 1 else "")
            return cls(graph, None, version, unbuilt_reason=reason)
        cache.store_engine(key, built.blob)
        return cls(graph, built.blob, version, built.build_seconds)

    def _choose_runner(self, unbuilt_reason: str | None = None) -> None:
        trt = load_tensorrt()
        if self.engine is None or trt is None:
            self._fallback_reason = unbuilt_reason or "TensorRT is not installed"
            return
        if tensorrt_version() != self.engine_tensorrt:
            self._fallback_reason = f"the engine was built by {self.engine_tensorrt}, this is {tensorrt_version()}"
            return
        from tripy.backend.tensorrt.engine import EngineRunner, EngineUnavailable

        try:
            runner = EngineRunner(trt, self.engine)
        except EngineUnavailable as exc:
            self._fallback_reason = str(exc)
            return
        try:  # engine outputs become tensors of tripy's cuda backend
            get_backend("cuda")
        except Exception as exc:
            self._fallback_reason = f"tripy's cuda backend is unavailable ({exc})"
            return
        self._runner = runner

    # -- properties -------------------------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """``"tensorrt"`` when the engine runs, else the name of the eager backend that runs the trace."""
        if self._runner is not None:
            return "tensorrt"
        name = current_backend().name
        return "cuda-graph" if name == "cuda" and cuda_graphs_enabled() else name

    @property
    def cuda_graphs(self) -> dict[tuple, Any]:
        """On the cuda backend, the CUDA graph of each bucket of input shapes met so far (a
        :class:`tripy.compiler.cuda_graph.CapturedGraph`; None for a bucket that runs eagerly)."""
        return dict(self._captured)

    @property
    def fallback_reason(self) -> str | None:
        """Why the engine does not run here (None when it does)."""
        return self._fallback_reason

    @property
    def graph(self) -> Graph:
        """The traced graph that the engine was built from."""
        return self._graph

    @property
    def input_infos(self) -> dict[str, Any]:
        """Each argument's name and its :class:`tripy.InputInfo`."""
        return {a.name: a.info for a in self._graph.args}

    def describe(self) -> str:
        """The TensorRT network of the engine, one layer a line: index, kind, output type and shape, inputs.

        Quantize and dequantize layers also show their per-channel axis. Where TensorRT is not installed
        there is no network, and the text says so.
        """
        trt = load_tensorrt()
        if self.engine is None or trt is None:
            return "(no TensorRT network: TensorRT is not installed)"
        from tripy.backend.tensorrt.network import describe_network, lower_graph

        lines = []
        for layer in describe_network(lower_graph(trt, self._graph).network):
            shape = layer["shapes"][0] if layer["shapes"] else None
            shape_text = "(dynamic)" if shape is None else str(tuple(shape))
            inputs = ", ".join(str(i) for i in layer["inputs"] if i is not None)
            axis = f" axis={layer['axis']}" if layer.get("axis", -1) != -1 else ""
            dtype = _TRT_TYPE_NAMES.get(layer["dtypes"][0], layer["dtypes"][0].lower()) if layer["dtypes"] else ""
            lines.append(
                f"{layer['index']:>3} {layer['type']:<16} {dtype:<8} {shape_text:<12} <- {inputs or '-'}{axis}".rstrip()
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        args = ", ".join(f"{a.name}: {a.info}" for a in self._graph.args)
        return f"Executable({args}) -> backend={self.backend!r}"

    # -- calling ----------------------------------------------------------------------------------------------
    def _bind(self, args: tuple, kwargs: dict) -> list[Any]:
        graph = self._graph
        keywords_differ = bool(kwargs or self._keyword_names) and set(kwargs) != self._keyword_names
        if len(args) != self._positional_count or keywords_differ:
            self._bad_call(args, kwargs)
        values = list(args) + [kwargs[a.name] for a in graph.args if a.keyword] if kwargs else list(args)
        for i, (arg, value) in enumerate(zip(graph.args, values)):
            info = arg.info
            if isinstance(info, DimensionInputInfo):
                values[i] = _size_carrier(arg.name, info, value)
                continue
            if not isinstance(value, Tensor):
                raise_error(
                    f"Argument `{arg.name}` of the compiled function must be a tp.Tensor, not {type(value).__name__}."
                )
            if value.dtype != info.dtype:
                raise_error(
                    f"Argument `{arg.name}` of the compiled function must have dtype {info.dtype} (as its "
                    f"tp.InputInfo says), but it has dtype {value.dtype}.",
                    [(f"`{arg.name}` was created at", value.where)],
                )
            if not info.accepts(value.shape):
                raise_error(
                    f"Argument `{arg.name}` of the compiled function has shape {value.shape}, but it was "
                    f"compiled for shapes {info.shape_text()}.",
                    [(f"`{arg.name}` was created at", value.where)],
                )
        shapes = [v.shape for v in values]
        for group in graph.symbols:
            sizes = {shapes[a][axis] for a, axis in group}
            if len(sizes) > 1:
                dims = ", ".join(f"dimension {axis} of `{graph.args[a].name}`" for a, axis in group)
                raise_error(
                    f"The compiled function needs equal sizes for {dims} (they were traced as one "
                    f"dimension), but they are {[shapes[a][axis] for a, axis in group]}."
                )
        return values

    def _bad_call(self, args: tuple, kwargs: dict) -> NoReturn:
        """Raise the error for a call whose arguments do not match the compiled function's."""
        names = ", ".join(f"`{a.name}`" for a in self._graph.args)
        if len(args) != self._positional_count:
            raise_error(
                f"The compiled function takes {self._positional_count} positional argument(s) but got {len(args)} "
                f"(its inputs: {names})."
            )
        raise_error(
            f"The compiled function was compiled with keyword argument(s) {sorted(self._keyword_names)} but was "
            f"called with {sorted(kwargs)}."
        )

    @property
    def stream(self) -> Stream:
        """The :class:`tripy.Stream` calls are queued on (by default :func:`tripy.default_stream`); without a
        GPU, a no-op stream. Assign another to queue later calls there."""
        if self._stream is None:
            self._stream = default_stream()
        return self._stream

    @stream.setter
    def stream(self, stream: Stream) -> None:
        if not isinstance(stream, Stream):
            raise_error(f"Executable.stream must be a tp.Stream, not {type(stream).__name__}.")
        self._stream = stream

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._bind(args, kwargs)
        with self.stream:
            outputs = self._run_engine(values) if self._runner is not None else self._run_eager(values)
        kind = self._graph.output_kind
        if kind == "tensor":
            return outputs[0]
        return tuple(outputs) if kind == "tuple" else list(outputs)

    def _run_eager(self, values: list[Any]) -> list[Any]:
        backend = current_backend()
        _warn_once(self._fallback_reason or "unknown", backend.name)
        if backend.name not in self._constants:  # moved to the backend once, not at every call
            self._constants[backend.name] = self._graph.constant_tensors()
        if backend.name == "cuda" and cuda_graphs_enabled():
            shapes = tuple(v.shape for v in values)
            captured = self._captured_for(shapes, backend)
            if captured is not None:
                outputs = captured(values)
                if outputs is not None:
                    return outputs
                # An output it lent is still held (a view of it, say): captured again, copying outputs out.
                del self._captured[shapes]
                captured = self._captured_for(shapes, backend, lend=False)
                if captured is not None:
                    outputs = captured(values)
                    assert outputs is not None  # nothing is lent
                    return outputs
        outputs = self._graph.to_tensors(values, self._constants[backend.name])
        evaluate(outputs, backend)  # keeps each output's value on it
        return outputs

    def _captured_for(self, shapes: tuple, backend: Any, lend: bool = True) -> Any:
        """The CUDA graph of this bucket of input shapes, captured on first use (None where it cannot be);
        ``lend``: its outputs are lent (see :mod:`tripy.compiler.cuda_graph`)."""
        if shapes not in self._captured:
            from tripy.compiler.cuda_graph import CapturedGraph

            try:
                graph = CapturedGraph(self._graph, self._constants[backend.name], shapes, backend, lend)
                self._captured[shapes] = graph
            except Exception as exc:  # a kernel that cannot be captured: this bucket runs eagerly
                self._captured[shapes] = None
                warnings.warn(
                    f"tp.compile: inputs of shapes {list(shapes)} could not be captured as a CUDA graph ({exc}); "
                    "they run eagerly, with the same results.",
                    RuntimeWarning,
                    stacklevel=4,
                )
        return self._captured[shapes]

    def _run_engine(self, values: list[Any]) -> list[Any]:  # pragma: no cover - needs a GPU TensorRT runs on
        cuda = get_backend("cuda")
        inputs = {}
        for arg, value in zip(self._graph.args, values):
            array = value.value_on(cuda)
            inputs[arg.name] = array if array.flags.c_contiguous else array.copy(order="C")
        dtypes = [self._graph.dtype_of(v) for v in self._graph.outputs]
        arrays = self._runner.run(inputs, [d.numpy for d in dtypes])
        outputs = []
        for array, dtype in zip(arrays, dtypes):
            outputs.append(Tensor.from_value(cuda, array, dtype, array.shape))
        return outputs

    # -- files ------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the executable to ``path``: a zip archive holding ``executable.json`` (the format, the traced
        graph and the inputs), ``engine.trt`` (the TensorRT engine, when there is one) and the constants as
        ``.npy`` arrays (its folder is made if needed). :mod:`tripy.compiler.serialize` documents the layout.
        :meth:`load` reads it back.

        .. code-block:: python

            import os, tempfile
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TensorRT may not run here
                exe = tp.compile(lambda x: x * 2.0, args=[tp.InputInfo((2,), tp.float32)])
                path = os.path.join(tempfile.mkdtemp(), "double.tpexe")
                exe.save(path)
                assert tp.Executable.load(path)(tp.ones((2,))).tolist() == [2.0, 2.0]
        """
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_archive(path, self._graph, self.engine, self.engine_tensorrt, _tripy_version())

    @classmethod
    def load(cls, path: str | Path) -> Executable:
        """Read an executable written by :meth:`save`. Loading runs nothing from the file: the graph is rebuilt
        from tripy's own primitive classes, constants are read as plain ``.npy`` arrays, and a file that is not
        an archive of this format, or that is damaged (its members are checked against their SHA-256), is a
        :class:`tripy.TripyException`. Files of tripy versions that saved pickles are refused.

        Where TensorRT is installed but the file has no engine of this TensorRT version, one is built.
        """
        name = str(path)
        try:
            with open(path, "rb") as f:
                head = f.read(len(_PICKLE_MAGIC))
        except OSError as exc:
            raise_error(f"Executable.load: cannot read `path` {name!r}: {exc.strerror}.")
        if head == _PICKLE_MAGIC:
            raise_error(
                f"Executable.load: {name!r} was written by an older tripy as a Python pickle, which this tripy does "
                "not load (loading a pickle can run any code it holds). Compile the function again and save it."
            )
        if not head.startswith(b"PK"):
            raise_error(f"Executable.load: {name!r} is not a file written by Executable.save (not a zip archive).")
        try:
            graph, engine, engine_tensorrt = read_archive(path)
        except UnsupportedVersion as exc:
            raise_error(f"Executable.load: {name!r} has {exc}.")
        except DamagedFile as exc:
            raise_error(f"Executable.load: {name!r} is damaged or was not written by Executable.save: {exc}.")
        except TripyException as exc:
            first = str(exc).splitlines()[0]
            raise_error(f"Executable.load: {name!r} is damaged or was not written by Executable.save: {first}")
        if load_tensorrt() is not None and engine_tensorrt != tensorrt_version():
            return cls.build(graph)  # saved without an engine this TensorRT can load: build one
        return cls(graph, engine, engine_tensorrt)


def _tripy_version() -> str:
    """The version of the tripy package (read from the loaded package, which imports this module)."""
    return str(getattr(sys.modules.get("tripy"), "__version__", "unknown"))
