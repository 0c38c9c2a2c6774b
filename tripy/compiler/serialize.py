"""The file format of :meth:`tripy.Executable.save`: a zip archive read without running any of its contents.

Members:

- ``executable.json``: the metadata: ``format`` (``"tripy-executable"``), ``version`` (:data:`FORMAT_VERSION`),
  the tripy that wrote it, the engine's member name, TensorRT version and SHA-256, and the traced graph:
  its arguments (name, how passed, each dimension's ``(min, opt, max)`` and name, dtype by name), its
  constants (dtype, shape, member name, SHA-256, and the symbolic value of a size-dependent scalar), its
  primitives (class name and fields), outputs and symbols.
- ``engine.trt``: the serialized TensorRT engine (absent when none was built).
- ``constants/N.npy``: constant ``N`` as a NumPy ``.npy`` array, read with ``allow_pickle=False``. Types NumPy
  lacks (bfloat16, float8, int4) are stored as unsigned ints of the element's width.

Field values are JSON numbers, strings, booleans and null, or one-key objects: ``{"tuple": [...]}``,
``{"list": [...]}``, ``{"dtype": "int8"}``, ``{"enum": "BinaryOp", "value": "add"}``,
``{"symint": {"coef": [p, q], "powers": [[symbol, exponent]], "offset": k}}``, ``{"float": "inf"}`` and
``{"numpy": "float32", "value": 1.5}``. A primitive is looked up by name among
:data:`tripy.trace.primitives.ALL_PRIMITIVES` and built from exactly its dataclass fields; anything else is
:class:`DamagedFile`.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import io
import json
import math
import zipfile
from fractions import Fraction
from typing import Any

import numpy as np

from tripy import dtypes
from tripy.compiler.dimension import NamedDimension
from tripy.compiler.graph import Argument, Constant, Graph, Op
from tripy.compiler.input_info import DimensionInputInfo, InputInfo
from tripy.compiler.symbolic import SymInt
from tripy.dtypes import DataType
from tripy.errors import SourceLocation
from tripy.trace.primitives import ALL_PRIMITIVES, BinaryOp, Primitive, ReduceOp, UnaryOp

FORMAT = "tripy-executable"
FORMAT_VERSION = 2
METADATA = "executable.json"
ENGINE = "engine.trt"
_PRIMITIVES: dict[str, type[Primitive]] = {cls.__name__: cls for cls in ALL_PRIMITIVES}
_ENUMS: dict[str, type[enum.Enum]] = {cls.__name__: cls for cls in (UnaryOp, BinaryOp, ReduceOp)}
_OUTPUT_KINDS = ("tensor", "tuple", "list")


class DamagedFile(Exception):
    """The archive is not a well-formed executable of this format (the message says what is wrong)."""


# -- values --------------------------------------------------------------------------------------------------
def encode_value(value: Any) -> Any:
    """A primitive's field value as JSON data (the tags of the module docstring)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, tuple):
        return {"tuple": [encode_value(v) for v in value]}
    if isinstance(value, list):
        return {"list": [encode_value(v) for v in value]}
    if isinstance(value, DataType):
        return {"dtype": value.name}
    if isinstance(value, enum.Enum) and type(value).__name__ in _ENUMS:
        return {"enum": type(value).__name__, "value": value.value}
    if isinstance(value, SymInt):
        coef = Fraction(value.coef)
        powers = [[s, e] for s, e in value.powers]
        return {"symint": {"coef": [coef.numerator, coef.denominator], "powers": powers, "offset": value.offset}}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {"numpy": value.dtype.name, "value": encode_value(value.item())}
    raise TypeError(f"cannot save a field value of type {type(value).__name__}: {value!r}")


def decode_value(data: Any) -> Any:
    """The inverse of :func:`encode_value`; anything it would not have written is :class:`DamagedFile`."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if not isinstance(data, dict) or not data:
        raise DamagedFile(f"unexpected field value {data!r}")
    tag = next(iter(data))
    if tag == "enum":
        return _decode_enum(data)
    if tag == "numpy" and data.keys() == {"numpy", "value"}:
        kind = _numpy_scalar_type(data["numpy"])
        value = decode_value(data["value"])
        if isinstance(value, (dict, list, tuple)):
            raise DamagedFile(f"unexpected NumPy scalar {data!r}")
        return kind(value)
    if len(data) != 1:
        raise DamagedFile(f"unexpected field value {data!r}")
    body = data[tag]
    if tag in ("tuple", "list"):
        items = [decode_value(v) for v in _typed(body, list, tag)]
        return tuple(items) if tag == "tuple" else items
    if tag == "dtype":
        return decode_dtype(body)
    if tag == "float":
        if body not in ("inf", "-inf", "nan"):
            raise DamagedFile(f"unexpected float {body!r}")
        return float(body)
    if tag == "symint":
        return decode_symint(body)
    raise DamagedFile(f"unknown field tag {tag!r}")


def _decode_enum(data: dict) -> enum.Enum:
    if data.keys() != {"enum", "value"} or data["enum"] not in _ENUMS:
        raise DamagedFile(f"unknown enum {data.get('enum')!r}")
    try:
        return _ENUMS[data["enum"]](data["value"])
    except ValueError:
        raise DamagedFile(f"{data['enum']} has no member {data['value']!r}") from None


def _numpy_scalar_type(name: Any) -> type:
    if name not in ("bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64"):
        raise DamagedFile(f"unexpected NumPy scalar type {name!r}")
    return np.dtype(name).type


def decode_dtype(name: Any) -> DataType:
    if not isinstance(name, str) or name not in {d.name for d in dtypes.ALL}:
        raise DamagedFile(f"unknown data type {name!r}")
    return dtypes.from_name(name)


def decode_symint(body: Any) -> SymInt:
    body = _typed(body, dict, "symint")
    if body.keys() != {"coef", "powers", "offset"}:
        raise DamagedFile(f"unexpected symint {body!r}")
    coef = _ints(body["coef"], "symint coef")
    if len(coef) != 2 or coef[1] == 0:
        raise DamagedFile(f"unexpected symint coefficient {coef!r}")
    powers = tuple(tuple(_ints(p, "symint power")) for p in _typed(body["powers"], list, "symint powers"))
    if any(len(p) != 2 for p in powers):
        raise DamagedFile(f"unexpected symint powers {powers!r}")
    return SymInt(Fraction(coef[0], coef[1]), powers, _int(body["offset"], "symint offset"))  # type: ignore[arg-type]


def _typed(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise DamagedFile(f"{what} should be a {kind.__name__}, not {type(value).__name__}")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DamagedFile(f"{what} should be an int, not {value!r}")
    return value


def _ints(value: Any, what: str) -> list[int]:
    return [_int(v, what) for v in _typed(value, list, what)]


# -- primitives ----------------------------------------------------------------------------------------------
def encode_primitive(prim: Primitive) -> dict:
    fields = {f.name: encode_value(getattr(prim, f.name)) for f in dataclasses.fields(prim)}
    return {"primitive": type(prim).__name__, "fields": fields}


def decode_primitive(data: Any) -> Primitive:
    """The primitive named in ``data``, built from exactly its fields; only tripy's primitives are known."""
    data = _typed(data, dict, "a primitive")
    name = data.get("primitive")
    cls = _PRIMITIVES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise DamagedFile(f"unknown primitive {name!r} (known: {', '.join(_PRIMITIVES)})")
    fields = _typed(data.get("fields"), dict, f"the fields of {name}")
    expected = {f.name for f in dataclasses.fields(cls)}
    # A field added later has a default: files written before it lack it.
    required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
    if not required <= set(fields) <= expected:
        raise DamagedFile(f"{name} has fields {sorted(expected)}, the file gives {sorted(fields)}")
    present = [f for f in dataclasses.fields(cls) if f.name in fields]
    values = {f.name: decode_value(fields[f.name]) for f in present}
    for f in present:
        check = _FIELD_CHECKS.get(str(f.type))
        if check is not None and not check(values[f.name]):
            raise DamagedFile(f"field {f.name!r} of {name} should be {f.type}, not {values[f.name]!r}")
    return cls(**values)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, SymInt)) and not isinstance(v, bool)


#: The field types of the primitives (their annotations) and what a value of each must be.
_FIELD_CHECKS: dict[str, Any] = {
    "int": _is_int,
    "int | None": lambda v: v is None or _is_int(v),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "DataType": lambda v: isinstance(v, DataType),
    "UnaryOp": lambda v: isinstance(v, UnaryOp),
    "BinaryOp": lambda v: isinstance(v, BinaryOp),
    "ReduceOp": lambda v: isinstance(v, ReduceOp),
    "Shape": lambda v: isinstance(v, tuple) and all(_is_int(d) for d in v),
    "tuple[int, ...]": lambda v: isinstance(v, tuple) and all(_is_int(d) for d in v),
    "float | int | bool": lambda v: isinstance(v, (float, int, bool, np.generic)),
}


# -- the graph -----------------------------------------------------------------------------------------------
def _encode_argument(arg: Argument) -> dict:
    info = arg.info
    kind = "dimension" if isinstance(info, DimensionInputInfo) else "tensor"
    return {
        "name": arg.name,
        "keyword": arg.keyword,
        "kind": kind,
        "ranges": [list(r) for r in info.ranges],
        "dimension_names": [info.dimension_names.get(axis) for axis in range(len(info.ranges))],
        "dtype": info.dtype.name,
    }


def _decode_argument(data: Any) -> Argument:
    data = _typed(data, dict, "an argument")
    name = _typed(data.get("name"), str, "an argument's name")
    keyword = _typed(data.get("keyword"), bool, "an argument's keyword flag")
    ranges = [tuple(_ints(r, "a range")) for r in _typed(data.get("ranges"), list, "ranges")]
    names = _typed(data.get("dimension_names"), list, "dimension names")
    if any(len(r) != 3 for r in ranges) or len(names) != len(ranges):
        raise DamagedFile(f"argument {name!r} has malformed ranges")
    if not all(n is None or isinstance(n, str) for n in names):
        raise DamagedFile(f"argument {name!r} has malformed dimension names")
    dtype = decode_dtype(data.get("dtype"))
    info: InputInfo
    if data.get("kind") == "dimension":
        if len(ranges) != 1:
            raise DamagedFile(f"size argument {name!r} has {len(ranges)} ranges")
        info = DimensionInputInfo(ranges[0])  # type: ignore[arg-type]
    elif data.get("kind") == "tensor":
        dims = [
            NamedDimension(n, *r) if n is not None else (r if r[0] != r[2] else r[0]) for r, n in zip(ranges, names)
        ]
        info = InputInfo(dims, dtype)  # type: ignore[arg-type]
    else:
        raise DamagedFile(f"argument {name!r} has an unknown kind {data.get('kind')!r}")
    return Argument(name, keyword, info)


def _encode_where(where: SourceLocation | None) -> Any:
    return None if where is None else [where.filename, where.lineno, where.function]


def _decode_where(data: Any) -> SourceLocation | None:
    if data is None:
        return None
    items = _typed(data, list, "a source location")
    if len(items) != 3 or not isinstance(items[0], str) or not isinstance(items[2], str):
        raise DamagedFile(f"malformed source location {data!r}")
    return SourceLocation(items[0], _int(items[1], "a line number"), items[2])


def _constant_storage(array: np.ndarray) -> np.ndarray:
    """What a constant is stored as: itself, or for types NumPy lacks, unsigned ints of the same width."""
    return array if array.dtype.kind in "biuf" else array.view(f"u{array.dtype.itemsize}")


def write_archive(path: Any, graph: Graph, engine: bytes | None, engine_tensorrt: str | None, version: str) -> None:
    """Write ``graph`` and ``engine`` to the zip archive ``path``."""
    constants, members = [], {}
    for i, const in enumerate(graph.constants):
        buffer = io.BytesIO()
        np.save(buffer, _constant_storage(const.array).copy(order="C"), allow_pickle=False)
        member = f"constants/{i}.npy"
        members[member] = buffer.getvalue()
        constants.append(
            {
                "file": member,
                "sha256": hashlib.sha256(members[member]).hexdigest(),
                "dtype": const.dtype.name,
                "shape": list(const.array.shape),
                "sym": None if const.sym is None else encode_value(const.sym),
            }
        )
    ops = [
        {
            **encode_primitive(op.prim),
            "inputs": list(op.inputs),
            "shape": encode_value(tuple(op.shape)),
            "dtype": op.dtype.name,
            "where": _encode_where(op.where),
        }
        for op in graph.ops
    ]
    metadata = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "tripy_version": version,
        "engine": None
        if engine is None
        else {"file": ENGINE, "tensorrt": engine_tensorrt, "sha256": hashlib.sha256(engine).hexdigest()},
        "graph": {
            "args": [_encode_argument(a) for a in graph.args],
            "constants": constants,
            "ops": ops,
            "outputs": list(graph.outputs),
            "output_kind": graph.output_kind,
            "symbols": [[list(pair) for pair in group] for group in graph.symbols],
            "aliases": [list(pair) for pair in graph.aliases],
        },
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA, json.dumps(metadata, indent=1, allow_nan=False))
        if engine is not None:
            archive.writestr(ENGINE, engine, compress_type=zipfile.ZIP_STORED)
        for member, data in members.items():
            archive.writestr(member, data)


def read_archive(path: Any) -> tuple[Graph, bytes | None, str | None]:
    """The graph, engine and engine's TensorRT version of an archive from :func:`write_archive`."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                metadata = json.loads(archive.read(METADATA))
            except KeyError:
                raise DamagedFile(f"it has no {METADATA}") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DamagedFile(f"{METADATA} is not JSON ({exc})") from None
            metadata = _typed(metadata, dict, METADATA)
            if metadata.get("format") != FORMAT:
                raise DamagedFile(f"{METADATA} names format {metadata.get('format')!r}, not {FORMAT!r}")
            if metadata.get("version") != FORMAT_VERSION:
                raise UnsupportedVersion(metadata.get("version"))
            engine, engine_tensorrt = None, None
            if metadata.get("engine") is not None:
                entry = _typed(metadata["engine"], dict, "the engine entry")
                engine = _member(archive, entry.get("file"), entry.get("sha256"))
                engine_tensorrt = _typed(entry.get("tensorrt"), str, "the engine's TensorRT version")
            graph = _decode_graph(archive, _typed(metadata.get("graph"), dict, "the graph"))
    except zipfile.BadZipFile as exc:
        raise DamagedFile(f"not a readable zip archive ({exc})") from None
    return graph, engine, engine_tensorrt


class UnsupportedVersion(DamagedFile):
    """An archive of this format but another version."""

    def __init__(self, version: Any) -> None:
        super().__init__(f"format version {version!r}, this tripy reads version {FORMAT_VERSION}")
        self.version = version


def _member(archive: zipfile.ZipFile, name: Any, digest: Any) -> bytes:
    if not isinstance(name, str):
        raise DamagedFile(f"malformed member name {name!r}")
    try:
        data = archive.read(name)
    except KeyError:
        raise DamagedFile(f"member {name!r} is missing") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise DamagedFile(f"member {name!r} does not match its SHA-256 in {METADATA}")
    return data


def _decode_graph(archive: zipfile.ZipFile, data: dict) -> Graph:
    args = [_decode_argument(a) for a in _typed(data.get("args"), list, "args")]
    constants = []
    for entry in _typed(data.get("constants"), list, "constants"):
        entry = _typed(entry, dict, "a constant")
        dtype = decode_dtype(entry.get("dtype"))
        raw = _member(archive, entry.get("file"), entry.get("sha256"))
        try:
            stored = np.load(io.BytesIO(raw), allow_pickle=False)
        except ValueError as exc:
            raise DamagedFile(f"constant {entry.get('file')!r} is not a plain .npy array ({exc})") from None
        shape = tuple(_ints(entry.get("shape"), "a constant's shape"))
        expected = _constant_storage(np.zeros((), dtype.numpy)).dtype
        if stored.dtype != expected or stored.shape != shape:
            raise DamagedFile(f"constant {entry.get('file')!r} holds {stored.dtype}{stored.shape}, expected {shape}")
        array = stored if stored.dtype == dtype.numpy else stored.view(dtype.numpy)
        sym = entry.get("sym")
        constants.append(
            Constant(array, dtype, None if sym is None else decode_symint(_typed(sym, dict, "sym")["symint"]))
        )
    ops = []
    for entry in _typed(data.get("ops"), list, "ops"):
        entry = _typed(entry, dict, "an op")
        shape = decode_value(entry.get("shape"))
        if not isinstance(shape, tuple) or not all(isinstance(d, (int, SymInt)) for d in shape):
            raise DamagedFile(f"malformed op shape {shape!r}")
        inputs = tuple(_ints(entry.get("inputs"), "an op's inputs"))
        ops.append(
            Op(
                decode_primitive(entry),
                inputs,
                shape,
                decode_dtype(entry.get("dtype")),
                _decode_where(entry.get("where")),
            )
        )
    outputs = _ints(data.get("outputs"), "outputs")
    output_kind = data.get("output_kind")
    if output_kind not in _OUTPUT_KINDS:
        raise DamagedFile(f"unknown output kind {output_kind!r}")
    symbols = [
        tuple(tuple(_ints(pair, "a symbol")) for pair in _typed(group, list, "a symbol group"))
        for group in _typed(data.get("symbols"), list, "symbols")
    ]
    aliases = [tuple(_ints(pair, "an alias")) for pair in _typed(data.get("aliases", []), list, "aliases")]
    graph = Graph(args, constants, ops, outputs, output_kind, symbols, aliases)  # type: ignore[arg-type]
    _check_references(graph)
    return graph


def _check_references(graph: Graph) -> None:
    """Every op reads values made before it, outputs exist, and symbols name real dimensions."""
    count = graph.first_op_value
    for op in graph.ops:
        if any(not 0 <= i < count for i in op.inputs):
            raise DamagedFile(f"an op reads a value that does not exist yet ({op.inputs})")
        arity = type(op.prim).arity
        if arity is not None and len(op.inputs) != arity:
            raise DamagedFile(f"{type(op.prim).__name__} takes {arity} inputs, the file gives {len(op.inputs)}")
        count += 1
    if any(not 0 <= o < count for o in graph.outputs) or not graph.outputs:
        raise DamagedFile(f"outputs {graph.outputs} do not exist")
    for pair in graph.aliases:
        if len(pair) != 2 or not 0 <= pair[0] < len(graph.outputs) or not 0 <= pair[1] < len(graph.args):
            raise DamagedFile(f"alias {list(pair)} names an output or argument that does not exist")
    for group in graph.symbols:
        for pair in group:
            if (
                len(pair) != 2
                or not 0 <= pair[0] < len(graph.args)
                or not 0 <= pair[1] < len(graph.args[pair[0]].info.ranges)
            ):
                raise DamagedFile(f"symbol {group} names a dimension that does not exist")
