"""tp.Module, tp.Parameter, state_dict/load_state_dict, printouts, LayerNorm, Embedding and Sequential."""

import math

import numpy as np
import pytest
from tripy_testing import assert_close

import tripy as tp


class Block(tp.Module):
    def __init__(self):
        super().__init__()
        self.proj = tp.Linear(3, 2)
        self.norm = tp.LayerNorm(2)
        self.gain = tp.Parameter([1.0, 2.0])

    def forward(self, x):
        return self.norm(self.proj(x)) * self.gain


class Model(tp.Module):
    # No super().__init__(): attribute registration must still work.
    def __init__(self):
        self.h = [Block(), Block()]
        self.heads = {"a": tp.Linear(2, 1), "b": tp.Linear(2, 1, bias=False)}
        self.emb = tp.Embedding(5, 3)
        self.not_a_param = np.ones(3)
        self._private = tp.Parameter(0.0)
        self.scale = tp.Parameter(1.5)

    def forward(self, ids):
        x = self.emb(ids)
        x = self.h[0](x) + self.h[1](x)
        return self.heads["a"](x) + self.heads["b"](x)


EXPECTED_KEYS = [
    "h.0.proj.weight",
    "h.0.proj.bias",
    "h.0.norm.weight",
    "h.0.norm.bias",
    "h.0.gain",
    "h.1.proj.weight",
    "h.1.proj.bias",
    "h.1.norm.weight",
    "h.1.norm.bias",
    "h.1.gain",
    "heads.a.weight",
    "heads.a.bias",
    "heads.b.weight",
    "emb.weight",
    "scale",
]


def test_state_dict_has_dotted_pytorch_style_keys():
    model = Model()
    sd = model.state_dict()
    assert sorted(sd) == sorted(EXPECTED_KEYS)
    assert all(isinstance(v, tp.Parameter) for v in sd.values())
    assert sd["h.1.proj.weight"] is model.h[1].proj.weight
    assert [k for k, _ in model.named_parameters()] == list(sd)
    assert len(model.parameters()) == len(EXPECTED_KEYS)


def test_assigning_a_tensor_to_a_parameter_slot_keeps_it_a_parameter():
    linear = tp.Linear(2, 2)
    linear.weight = tp.ones((2, 2))
    assert isinstance(linear.weight, tp.Parameter)
    assert "weight" in linear.state_dict()
    assert linear.weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_parameters_assigned_later_and_modules_added_later_are_found():
    m = tp.Module()
    m.w = tp.Parameter(np.zeros((2,), np.float32))
    m.child = tp.Linear(1, 1)
    assert list(m.state_dict()) == ["w", "child.weight", "child.bias"]


def test_named_modules():
    names = [name for name, _ in Model().named_modules()]
    assert names[0] == "" and "h.0" in names and "heads.b" in names and "h.1.norm" in names


@pytest.mark.parametrize(
    "data, shape, dtype",
    [
        (1.0, (), tp.float32),
        (2, (), tp.int32),
        ([1.0, 2.0], (2,), tp.float32),
        ([[1, 2]], (1, 2), tp.int32),
        (np.ones((2, 3), np.float16), (2, 3), tp.float16),
        (True, (), tp.bool),
    ],
)
def test_parameter_from_python_and_numpy(backend, data, shape, dtype):
    p = tp.Parameter(data)
    assert isinstance(p, tp.Parameter) and isinstance(p, tp.Tensor)
    assert p.shape == shape and p.dtype == dtype
    np.testing.assert_array_equal(p.numpy(), np.asarray(data).astype(dtype.numpy))


def test_parameter_from_tensor_and_with_dtype(backend):
    p = tp.Parameter(tp.iota((2, 2)) + 1.0)
    assert p.tolist() == [[1.0, 1.0], [2.0, 2.0]]
    assert tp.Parameter([1, 2], dtype=tp.float16).dtype == tp.float16
    # A parameter computes and prints like a tensor.
    assert (tp.Parameter(2.0) * tp.ones((2,))).tolist() == [2.0, 2.0]
    assert repr(tp.Parameter([1.0])).startswith("tensor([1.0000], dtype=float32")


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.bfloat16, tp.int32, tp.int8])
def test_placeholders_are_arange_in_the_module_dtype(dtype):
    linear = tp.Linear(4, 3, dtype=dtype)
    expected = np.arange(12).reshape(3, 4).astype(dtype.numpy)
    assert linear.weight.dtype == dtype
    np.testing.assert_array_equal(linear.weight.numpy(), expected)
    np.testing.assert_array_equal(linear.bias.numpy(), np.arange(3).astype(dtype.numpy))
    norm = tp.LayerNorm((2, 3), dtype=dtype)
    np.testing.assert_array_equal(norm.weight.numpy(), np.arange(6).reshape(2, 3).astype(dtype.numpy))
    emb = tp.Embedding(4, 5, dtype=dtype)
    np.testing.assert_array_equal(emb.weight.numpy(), np.arange(20).reshape(4, 5).astype(dtype.numpy))


def test_quantized_linear_declares_unset_scales():
    linear = tp.Linear(4, 2, quant_dtype=tp.int8)
    assert linear.weight_scale is None and linear.input_scale is None
    assert list(linear.state_dict()) == ["weight", "bias"]
    linear.weight_scale = tp.Parameter(1.0)
    assert list(linear.state_dict()) == ["weight", "bias", "weight_scale"]


# -- load_state_dict ---------------------------------------------------------------------------------
def test_load_state_dict_round_trip_from_numpy(backend):
    source = Model()
    rng = np.random.default_rng(0)
    arrays = {k: rng.normal(size=v.shape).astype(np.float64) for k, v in source.state_dict().items()}
    target = Model()
    result = target.load_state_dict(arrays)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    for key, param in target.state_dict().items():
        assert isinstance(param, tp.Parameter) and param.dtype == tp.float32
        np.testing.assert_array_equal(param.numpy(), arrays[key].astype(np.float32))
    # And from another module's state_dict (tensors).
    again = Model()
    again.load_state_dict(target.state_dict())
    for key, param in again.state_dict().items():
        np.testing.assert_array_equal(param.numpy(), target.state_dict()[key].numpy())


def test_load_state_dict_converts_to_each_parameters_dtype(backend):
    linear = tp.Linear(2, 2, dtype=tp.float16)
    linear.load_state_dict({"weight": np.array([[1.1, 2], [3, 4]]), "bias": [0.5, 1]})
    assert linear.weight.dtype == tp.float16 and linear.bias.dtype == tp.float16
    np.testing.assert_array_equal(linear.weight.numpy(), np.array([[1.1, 2], [3, 4]]).astype(np.float16))


def test_load_state_dict_sets_declared_quantization_scales(backend):
    linear = tp.Linear(2, 2, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.load_state_dict(
        {"weight": np.eye(2), "bias": np.zeros(2), "weight_scale": np.array([0.5, 0.25]), "input_scale": np.array(2.0)}
    )
    assert linear.weight_scale.tolist() == [0.5, 0.25] and linear.input_scale.tolist() == 2.0
    assert isinstance(linear.input_scale, tp.Parameter)


def test_load_state_dict_non_strict_reports_missing_and_unexpected(backend):
    linear = tp.Linear(2, 2)
    result = linear.load_state_dict(
        {"weight": np.zeros((2, 2)), "extra": np.ones(1), "sub.weight": np.ones(1)}, strict=False
    )
    assert result.missing_keys == ["bias"]
    assert sorted(result.unexpected_keys) == ["extra", "sub.weight"]
    assert linear.weight.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert linear.bias.tolist() == [0.0, 1.0]  # untouched placeholder


def test_load_state_dict_strict_changes_nothing_on_error(backend):
    linear = tp.Linear(2, 2)
    with pytest.raises(tp.TripyException, match="missing keys: bias"):
        linear.load_state_dict({"weight": np.zeros((2, 2))})
    assert linear.weight.tolist() == [[0.0, 1.0], [2.0, 3.0]]


# -- printouts ---------------------------------------------------------------------------------------
def test_seed_guide_linear_printout_shows_parameters_and_quantization_settings():
    quant_linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=None)
    text = repr(quant_linear)
    assert text.startswith("Linear(")
    for part in (
        "in_features=4",
        "out_features=2",
        "quant_dtype=int8",
        "weight_quant_dim=None",
        "weight: Parameter = (shape=(2, 4), dtype=float32)",
        "bias: Parameter = (shape=(2,), dtype=float32)",
        "weight_scale: Parameter = None",
        "input_scale: Parameter = None",
    ):
        assert part in text, text
    quant_linear.weight_scale = tp.Parameter(1.0)
    quant_linear.input_scale = tp.Parameter(1.0)
    text = repr(quant_linear)
    assert "weight_scale: Parameter = (shape=(), dtype=float32)" in text
    assert "input_scale: Parameter = (shape=(), dtype=float32)" in text
    per_channel = repr(tp.Linear(768, 2304, quant_dtype=tp.int8, weight_quant_dim=0))
    assert "weight_quant_dim=0" in per_channel and "shape=(2304, 768)" in per_channel


def test_unquantized_linear_printout_has_no_quantization_settings():
    text = repr(tp.Linear(3, 2))
    assert "quant_dtype" not in text and "weight_scale" not in text and "in_features=3" in text


def test_nested_module_printout_is_an_indented_tree():
    text = repr(Model())
    lines = text.splitlines()
    assert lines[0] == "Model("
    assert "    h: [" in lines
    assert any(line.startswith("        0: Block(") for line in lines)
    assert any(line.startswith("            proj: Linear(") for line in lines)
    assert "    heads: {" in lines and any(line.startswith("        a: Linear(") for line in lines)
    assert "    scale: Parameter = (shape=(), dtype=float32)," in lines
    assert "_private" not in text and "not_a_param" not in text
    assert lines[-1] == ")"


def test_sequential_printout_and_keys():
    model = tp.Sequential(tp.Linear(3, 2), tp.LayerNorm(2))
    text = repr(model)
    assert text.startswith("Sequential(\n    0: Linear(") and "1: LayerNorm(" in text
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    named = tp.Sequential({"fc": tp.Linear(3, 2), "act": tp.LayerNorm(2)})
    assert list(named.state_dict()) == ["fc.weight", "fc.bias", "act.weight", "act.bias"]
    assert named["fc"] is named[0] and len(named) == 2


# -- layers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("normalized_shape", [4, (4,), (3, 4)])
def test_layernorm_matches_numpy(backend, normalized_shape):
    rng = np.random.default_rng(1)
    shape = (2, 3, 4)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    norm = tp.LayerNorm(normalized_shape, eps=1e-5)
    w, b = rng.normal(size=ns).astype(np.float32), rng.normal(size=ns).astype(np.float32)
    norm.load_state_dict({"weight": w, "bias": b})
    x = rng.normal(2, 3, size=shape).astype(np.float32)
    axes = tuple(range(len(shape) - len(ns), len(shape)))
    mean = x.astype(np.float64).mean(axis=axes, keepdims=True)
    var = x.astype(np.float64).var(axis=axes, keepdims=True)
    expected = ((x - mean) / np.sqrt(var + 1e-5) * w + b).astype(np.float32)
    assert_close(norm(tp.Tensor(x)), expected, tp.float32, ulps=32, atol=1e-5)


def test_layernorm_float16(backend):
    rng = np.random.default_rng(2)
    norm = tp.LayerNorm(8, dtype=tp.float16)
    norm.load_state_dict({"weight": np.ones(8), "bias": np.zeros(8)})
    x = rng.normal(size=(3, 8)).astype(np.float16)
    x32 = x.astype(np.float64)
    expected = (x32 - x32.mean(-1, keepdims=True)) / np.sqrt(x32.var(-1, keepdims=True) + 1e-5)
    out = norm(tp.Tensor(x))
    assert out.dtype == tp.float16
    assert_close(out, expected.astype(np.float16), tp.float16, ulps=8, atol=1e-2)


@pytest.mark.parametrize("dtype", [tp.float16, tp.bfloat16])
def test_layernorm_of_large_low_precision_activations(backend, dtype):
    # Activations of several hundred (as in GPT-2's residual stream): their squares overflow float16.
    rng = np.random.default_rng(5)
    norm = tp.LayerNorm(768, dtype=dtype)
    norm.load_state_dict({"weight": np.ones(768), "bias": np.zeros(768)})
    x = (rng.normal(0, 300, size=(2, 768))).astype(np.float32).astype(dtype.numpy)
    wide = x.astype(np.float64)
    expected = (wide - wide.mean(-1, keepdims=True)) / np.sqrt(wide.var(-1, keepdims=True) + 1e-5)
    out = norm(tp.Tensor(x))
    assert out.dtype == dtype
    assert_close(out, expected.astype(dtype.numpy), dtype, ulps=2, atol=1e-3)


@pytest.mark.parametrize("ids_dtype", [tp.int32, tp.int64])
def test_embedding_gathers_rows(backend, ids_dtype):
    emb = tp.Embedding(6, 3)
    table = np.random.default_rng(3).normal(size=(6, 3)).astype(np.float32)
    emb.weight = tp.Parameter(table)
    ids = np.array([[5, 0, 2], [1, 1, 4]])
    out = emb(tp.Tensor(ids, dtype=ids_dtype))
    assert_close(out, table[ids], tp.float32, ulps=0)


def test_embedding_placeholder_rows(backend):
    assert tp.Embedding(4, 2)(tp.Tensor([3, 0])).tolist() == [[6.0, 7.0], [0.0, 1.0]]


def test_sequential_applies_in_order(backend):
    first, second = tp.Linear(3, 2), tp.Linear(2, 1)
    model = tp.Sequential(first, second)
    x = tp.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert model(x).tolist() == second(first(x)).tolist()
    w1, b1 = np.arange(6).reshape(2, 3), np.arange(2)
    w2, b2 = np.arange(2).reshape(1, 2), np.arange(1)
    xs = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(model(x).numpy(), ((xs @ w1.T + b1) @ w2.T + b2).astype(np.float32))


def test_module_forward_runs_with_placeholders(backend):
    out = Model()(tp.Tensor([[0, 4]]))
    assert out.shape == (1, 2, 1) and out.dtype == tp.float32
    assert all(math.isfinite(v) for v in np.asarray(out.numpy()).reshape(-1))


def test_scalars_lists_and_arrays_assigned_to_parameter_slots_become_parameters(backend):
    linear = tp.Linear(4, 2, quant_dtype=tp.int8)
    linear.weight_scale = 1.0  # a declared (unset) slot
    linear.input_scale = np.float32(1.0)
    linear.weight = np.arange(8, dtype=np.float32).reshape(2, 4)
    linear.bias = [0.0, 1.0]
    for name in ("weight", "bias", "weight_scale", "input_scale"):
        assert isinstance(getattr(linear, name), tp.Parameter), name
    assert list(linear.state_dict()) == ["weight", "bias", "weight_scale", "input_scale"]
    assert linear(tp.iota((3, 4))).tolist() == [[0.0, 1.0], [6.0, 23.0], [12.0, 45.0]]
    linear.bias = None  # parameters may still be removed
    assert "bias" not in linear.state_dict()
    m = tp.Module()
    m.plain = np.ones(2)  # not a parameter slot: left alone
    assert isinstance(m.plain, np.ndarray) and m.state_dict() == {}


@pytest.mark.filterwarnings("error")
def test_large_float16_placeholders_are_inf_past_the_range_without_warnings():
    linear = tp.Linear(300, 300, dtype=tp.float16)
    weight = linear.weight.numpy().astype(np.float64).reshape(-1)
    with np.errstate(over="ignore"):
        expected = np.arange(90000, dtype=np.float64).astype(np.float16).astype(np.float64)
    np.testing.assert_array_equal(weight, expected)
    assert np.isinf(weight[-1]) and weight[65504] == 65504.0
