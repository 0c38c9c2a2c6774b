"""``Executable.save``/``load``: the zip archive of ``executable.json``, the engine and ``.npy`` constants; files
that are damaged, foreign or crafted to run code on load are refused without running anything."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
from trt_checks import compile_quietly, run_quietly

import tripy as tp
from tripy.compiler import executable, serialize
from tripy.compiler.symbolic import SymInt
from tripy.trace.primitives import ALL_PRIMITIVES


def _many_primitives(x):
    """Touches most primitive kinds: quantize/dequantize with a per-channel scale, matmul, reduce, gather,
    concat, slice, where, a -inf fill (non-finite JSON), iota, cast, unary ops, reshapes that follow the batch."""
    scale = tp.Tensor([0.5, 0.25, 1.0, 2.0])
    q = tp.dequantize(tp.quantize(x, scale, tp.int8, dim=1), scale, tp.float32, dim=1)
    h = tp.exp(q @ tp.reshape(tp.iota((16,)), (4, 4))) / 100.0
    h = tp.where(h > 1.0, h, tp.full(h.shape, float("-inf")))
    h = tp.concatenate([h, tp.cast(tp.iota(h.shape, dim=1, dtype=tp.int32), tp.float32)], dim=1)
    picked = tp.gather(h, 1, tp.Tensor([0, 5]))
    folded = tp.reshape(h[:, 1:7], (x.shape[0] * 2, 3))
    return tp.max(picked, dim=1), tp.sum(folded, dim=0) + tp.mean(x)


INFOS = [tp.InputInfo((tp.NamedDimension("batch", 1, 2, 6), 4), tp.float32)]


@pytest.fixture
def no_tensorrt(monkeypatch):
    monkeypatch.setattr(executable, "load_tensorrt", lambda: None)


def test_round_trip_keeps_the_graph_and_the_results(tmp_path, no_tensorrt):
    exe = compile_quietly(_many_primitives, INFOS)
    assert any(isinstance(d, SymInt) for op in exe.graph.ops for d in op.shape)  # the batch is symbolic
    path = tmp_path / "not" / "yet" / "executable.json"  # nvtripy's examples save into folders not made yet
    exe.save(path)
    loaded = tp.Executable.load(path)
    assert loaded.graph.fingerprint() == exe.graph.fingerprint()
    assert loaded.input_infos == exe.input_infos and loaded.graph.symbols == exe.graph.symbols
    assert [op.where for op in loaded.graph.ops] == [op.where for op in exe.graph.ops]
    for batch in (1, 5):
        x = tp.iota((batch, 4)) - 1.5
        for got, want in zip(run_quietly(loaded, x), _many_primitives(x)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_narrow_constants_and_size_arguments_round_trip(tmp_path, no_tensorrt):
    weights = {
        dtype: tp.cast(tp.Tensor([[0.5, -1.0], [2.0, 3.0]]), dtype).eval()
        for dtype in (tp.bfloat16, tp.float16, tp.int4)
    }

    def f(x, n):
        outs = [tp.cast(w, tp.float32) for w in weights.values()]
        return tp.expand(x + outs[0] + outs[1] + outs[2], (n, 2, 2)) * tp.cast(n, tp.float32)

    infos = [tp.InputInfo((2, 2), tp.float32), tp.DimensionInputInfo((1, 2, 4))]
    exe = compile_quietly(f, infos)
    exe.save(tmp_path / "f.tpexe")
    with zipfile.ZipFile(tmp_path / "f.tpexe") as archive:
        metadata = json.loads(archive.read("executable.json"))
        dtypes = [c["dtype"] for c in metadata["graph"]["constants"]]
    assert {"bfloat16", "float16", "int4"} <= set(dtypes)
    loaded = tp.Executable.load(tmp_path / "f.tpexe")
    assert isinstance(loaded.graph.args[1].info, tp.DimensionInputInfo)
    x = tp.ones((2, 2))
    np.testing.assert_array_equal(run_quietly(loaded, x, 3).numpy(), run_quietly(exe, x, 3).numpy())


def test_the_archive_is_the_documented_layout(tmp_path, trt):
    exe = compile_quietly(lambda x: x * 2.0 + tp.Tensor([1.0, 2.0]), [tp.InputInfo((2,), tp.float32)])
    exe.save(tmp_path / "e.tpexe")
    with zipfile.ZipFile(tmp_path / "e.tpexe") as archive:
        names = set(archive.namelist())
        metadata = json.loads(archive.read("executable.json"))
        assert archive.read("engine.trt") == exe.engine  # the engine, as TensorRT serialized it
        constants = [
            np.load(io.BytesIO(archive.read(c["file"])), allow_pickle=False) for c in metadata["graph"]["constants"]
        ]
    assert names >= {"executable.json", "engine.trt", "constants/0.npy"}
    assert metadata["format"] == "tripy-executable" and metadata["version"] == serialize.FORMAT_VERSION
    assert metadata["engine"]["tensorrt"] == exe.engine_tensorrt
    assert {op["primitive"] for op in metadata["graph"]["ops"]} <= {p.__name__ for p in ALL_PRIMITIVES}
    assert any(c.dtype == np.float32 and c.tolist() == [1.0, 2.0] for c in constants)


# -- files that must be refused ------------------------------------------------------------------------------
class _RunsCode:
    """Unpickling this calls ``open(marker, "w")``: a stand-in for code a malicious file would run."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_an_old_pickle_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "old.tpexe"
    path.write_bytes(b"TRIPY-EXECUTABLE\n" + pickle.dumps({"version": 1, "graph": _RunsCode(str(marker))}))
    with pytest.raises(tp.TripyException, match="older tripy as a Python pickle, which this tripy does not load"):
        tp.Executable.load(path)
    assert not marker.exists()
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(_RunsCode(str(marker))))
    with pytest.raises(tp.TripyException, match="not a file written by Executable.save"):
        tp.Executable.load(plain)
    assert not marker.exists()


def _saved(tmp_path, no_tensorrt=True):
    exe = compile_quietly(lambda x: tp.exp(x) * 2.0 + tp.Tensor([1.0, 2.0]), [tp.InputInfo((2,), tp.float32)])
    path = tmp_path / "good.tpexe"
    exe.save(path)
    return path


def _rewrite(path, out, change):
    """A copy of archive ``path`` at ``out`` with its metadata passed through ``change`` (members kept)."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    metadata = json.loads(members["executable.json"])
    change(metadata, members)
    members["executable.json"] = json.dumps(metadata).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def _first_op(metadata, primitive="Unary"):
    return next(op for op in metadata["graph"]["ops"] if op["primitive"] == primitive)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m, _: _first_op(m).update(primitive="os.system"), "unknown primitive 'os.system'"),
        (lambda m, _: _first_op(m).update(primitive="__import__"), "unknown primitive '__import__'"),
        (lambda m, _: _first_op(m)["fields"].update(op={"enum": "os.system", "value": "ls"}), "unknown enum"),
        (lambda m, _: _first_op(m)["fields"].update(extra=1), "has fields"),
        (lambda m, _: _first_op(m)["fields"].update(op={"callable": "os.system"}), "unknown field tag 'callable'"),
        (lambda m, _: _first_op(m)["fields"].update(op="neg"), "field 'op' of Unary should be UnaryOp"),
        (lambda m, _: _first_op(m).update(inputs=[99]), "reads a value that does not exist"),
        (lambda m, _: m["graph"]["constants"][0].update(dtype="object"), "unknown data type 'object'"),
        (lambda m, _: m.update(format="something-else"), "names format 'something-else'"),
        (lambda m, _: m.update(version=1), "has format version 1, this tripy reads version 2"),
        (lambda m, _: m["graph"].update(output_kind="exec"), "unknown output kind"),
        (lambda m, members: members.update({"constants/0.npy": b"\x93NUMPY garbage"}), "does not match its SHA-256"),
        (lambda m, members: members.pop("constants/0.npy"), "member 'constants/0.npy' is missing"),
    ],
    ids=[
        "os-system-primitive",
        "import-primitive",
        "foreign-enum",
        "extra-field",
        "unknown-tag",
        "wrong-field-type",
        "dangling-input",
        "object-dtype",
        "foreign-format",
        "old-version",
        "output-kind",
        "changed-constant",
        "missing-constant",
    ],
)
def test_damaged_or_foreign_metadata_is_refused(tmp_path, no_tensorrt, change, message):
    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.tpexe", change)
    with pytest.raises(tp.TripyException, match=message) as info:
        tp.Executable.load(bad)
    assert "Executable.load" in str(info.value) and __file__ in str(info.value)


def test_a_pickled_npy_constant_is_not_unpickled(tmp_path, no_tensorrt):
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    np.save(buffer, np.array([_RunsCode(str(marker))], dtype=object), allow_pickle=True)
    payload = buffer.getvalue()

    def swap(metadata, members):
        members["constants/0.npy"] = payload
        metadata["graph"]["constants"][0]["sha256"] = __import__("hashlib").sha256(payload).hexdigest()

    bad = _rewrite(_saved(tmp_path), tmp_path / "bad.tpexe", swap)
    with pytest.raises(tp.TripyException, match="is not a plain .npy array"):
        tp.Executable.load(bad)
    assert not marker.exists()


def test_truncated_and_empty_archives_are_refused(tmp_path, no_tensorrt):
    good = _saved(tmp_path).read_bytes()
    (tmp_path / "cut.tpexe").write_bytes(good[: len(good) // 2])
    with pytest.raises(tp.TripyException, match="is damaged or was not written by Executable.save"):
        tp.Executable.load(tmp_path / "cut.tpexe")
    with zipfile.ZipFile(tmp_path / "empty.tpexe", "w"):
        pass
    with pytest.raises(tp.TripyException, match="it has no executable.json"):
        tp.Executable.load(tmp_path / "empty.tpexe")
    with zipfile.ZipFile(tmp_path / "notjson.tpexe", "w") as archive:
        archive.writestr("executable.json", b"\x00not json")
    with pytest.raises(tp.TripyException, match="executable.json is not JSON"):
        tp.Executable.load(tmp_path / "notjson.tpexe")


def test_a_damaged_engine_is_refused(tmp_path, trt):
    exe = compile_quietly(lambda x: x + 1.0, [tp.InputInfo((2,), tp.float32)])
    exe.save(tmp_path / "e.tpexe")

    def damage(metadata, members):
        members["engine.trt"] = members["engine.trt"][:-10]

    bad = _rewrite(tmp_path / "e.tpexe", tmp_path / "bad.tpexe", damage)
    with pytest.raises(tp.TripyException, match="member 'engine.trt' does not match its SHA-256"):
        tp.Executable.load(bad)


def test_the_stream_of_an_executable(no_tensorrt):
    exe = compile_quietly(lambda x: x + 1.0, [tp.InputInfo((2,), tp.float32)])
    assert exe.stream == tp.default_stream()
    stream = tp.Stream()
    exe.stream = stream
    assert exe.stream is stream and run_quietly(exe, tp.ones((2,))).tolist() == [2.0, 2.0]
    with pytest.raises(tp.TripyException, match="Executable.stream must be a tp.Stream, not int"):
        exe.stream = 0
