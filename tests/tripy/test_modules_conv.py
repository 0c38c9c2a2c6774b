"""tp.Conv and tp.ConvTranspose: against PyTorch, quantized (exact int32 sums), state, printing and errors."""

import inspect

import numpy as np
import pytest
import torch
from conv_reference import U32, float_bound, reduction_length, ref_conv
from tripy_testing import assert_user_line, mentions, ref_quantize

import tripy as tp

FILE = __file__


def here() -> int:
    return inspect.currentframe().f_back.f_lineno


def _rand(shape, seed):
    return np.random.default_rng(seed).uniform(-2, 2, size=shape).astype(np.float32)


TORCH = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
TORCH_T = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}


@pytest.mark.parametrize(
    "shape, out_channels, kernel, stride, padding, dilation, groups",
    [
        ((2, 3, 11), 4, (3,), (2,), (1,), (2,), 1),
        ((1, 4, 8, 9), 6, (3, 3), (1, 2), (1, 2), (1, 1), 2),
        ((2, 4, 7, 7), 4, (3, 3), (2, 2), (1, 1), (2, 2), 4),
        ((1, 2, 4, 5, 6), 2, (2, 3, 3), (1, 1, 2), (0, 1, 1), (1, 1, 1), 1),
    ],
)
def test_conv_matches_torch(backend, shape, out_channels, kernel, stride, padding, dilation, groups):
    rank = len(kernel)
    ref = TORCH[rank](shape[1], out_channels, kernel, stride, padding, dilation, groups, dtype=torch.float64)
    conv = tp.Conv(shape[1], out_channels, kernel, [(p, p) for p in padding], stride, groups, dilation, bias=True)
    conv.load_state_dict({"weight": _rand(conv.weight.shape, 1), "bias": _rand((out_channels,), 2)})
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(conv.weight.numpy()))
        ref.bias.copy_(torch.tensor(conv.bias.numpy()))
    x = _rand(shape, 0)
    got = conv(tp.Tensor(x)).numpy().astype(np.float64)
    expected = ref(torch.tensor(x, dtype=torch.float64)).detach().numpy()
    w, b = conv.weight.numpy().astype(np.float64), conv.bias.numpy().astype(np.float64)
    args = dict(stride=stride, padding=[(p, p) for p in padding], dilation=dilation, groups=groups)
    bound = float_bound(x.astype(np.float64), w, b, reduction_length(w), **args)
    assert got.shape == expected.shape
    assert np.all(np.abs(got - expected) <= bound)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_modes_through_tp_pad(backend, mode):
    """tp.pad before an unpadded Conv gives PyTorch's padding_mode."""
    ref = torch.nn.Conv2d(2, 3, (3, 3), padding=(2, 1), padding_mode=mode, dtype=torch.float64)
    conv = tp.Conv(2, 3, (3, 3))
    conv.load_state_dict({"weight": ref.weight.detach().numpy(), "bias": ref.bias.detach().numpy()})
    x = _rand((1, 2, 5, 6), 3)
    got = conv(tp.pad(tp.Tensor(x), [(0, 0), (0, 0), (2, 2), (1, 1)], mode=mode)).numpy()
    expected = ref(torch.tensor(x, dtype=torch.float64)).detach().numpy()
    padded = np.pad(
        x.astype(np.float64),
        [(0, 0), (0, 0), (2, 2), (1, 1)],
        mode={"replicate": "edge", "circular": "wrap"}.get(mode, mode),
    )
    w, b = conv.weight.numpy().astype(np.float64), conv.bias.numpy().astype(np.float64)
    assert np.all(np.abs(got - expected) <= float_bound(padded, w, b, reduction_length(w)))


def _quantized(quant_dtype, weight_quant_dim, groups=1):
    conv = tp.Conv(
        4,
        6,
        (3, 3),
        padding=[(1, 1), (0, 1)],
        stride=(2, 1),
        groups=groups,
        dilation=(1, 2),
        quant_dtype=quant_dtype,
        weight_quant_dim=weight_quant_dim,
    )
    conv.weight = _rand(conv.weight.shape, 4)
    conv.bias = _rand((6,), 5)
    absmax = np.abs(conv.weight.numpy()).reshape(6, -1).max(axis=1)
    qmax = 127.0 if quant_dtype == tp.int8 else 7.0
    conv.weight_scale = (absmax / qmax).astype(np.float32) if weight_quant_dim == 0 else np.float32(absmax.max() / qmax)
    return conv


@pytest.mark.parametrize("quant_dtype", [tp.int8, tp.int4], ids=str)
@pytest.mark.parametrize("weight_quant_dim", [0, None])
@pytest.mark.parametrize("groups", [1, 2])
def test_quantized_conv_sums_integers_exactly(backend, quant_dtype, weight_quant_dim, groups):
    conv = _quantized(quant_dtype, weight_quant_dim, groups)
    conv.input_scale = np.float32(2.0 / (127 if quant_dtype == tp.int8 else 7))
    x = _rand((2, 4, 6, 5), 6)
    got = conv(tp.Tensor(x)).numpy()
    sx, sw = conv.input_scale.numpy(), conv.weight_scale.numpy()
    qx = ref_quantize(x, sx, quant_dtype).astype(np.int64)
    qw = ref_quantize(conv.weight.numpy(), sw, quant_dtype, weight_quant_dim).astype(np.int64)
    sums = ref_conv(qx, qw, stride=(2, 1), padding=[(1, 1), (0, 1)], dilation=(1, 2), groups=groups)
    scale = (np.float32(sx) * sw.astype(np.float32)).reshape((1, -1, 1, 1) if sw.ndim else ())
    expected = sums.astype(np.float32) * scale + conv.bias.numpy().reshape(1, -1, 1, 1)
    np.testing.assert_array_equal(got, expected)


def test_quantized_conv_agrees_with_fake_quantization(backend):
    """Scaling exact int32 sums once equals convolving dequantized values, up to float32 rounding."""
    conv = _quantized(tp.int8, 0)
    conv.input_scale = np.float32(0.02)
    x = tp.Tensor(_rand((1, 4, 6, 5), 7))
    fake_x = tp.dequantize(tp.quantize(x, conv.input_scale, tp.int8), conv.input_scale, tp.float32)
    fake_w = tp.dequantize(tp.quantize(conv.weight, conv.weight_scale, tp.int8, 0), conv.weight_scale, tp.float32, 0)
    plain = tp.Conv(4, 6, (3, 3), padding=[(1, 1), (0, 1)], stride=(2, 1), dilation=(1, 2))
    plain.weight, plain.bias = fake_w, conv.bias
    got, expected = conv(x).numpy().astype(np.float64), plain(fake_x).numpy().astype(np.float64)
    args = dict(stride=(2, 1), padding=[(1, 1), (0, 1)], dilation=(1, 2))
    w = fake_w.numpy().astype(np.float64)
    bound = 2 * float_bound(
        fake_x.numpy().astype(np.float64), w, conv.bias.numpy().astype(np.float64), reduction_length(w), **args
    )
    assert np.all(np.abs(got - expected) <= bound)


def test_weight_only_quantization_convolves_dequantized_weights(backend):
    conv = _quantized(tp.int8, 0)
    x = _rand((1, 4, 6, 5), 8)
    qw = ref_quantize(conv.weight.numpy(), conv.weight_scale.numpy(), tp.int8, 0).astype(np.float64)
    w = qw * conv.weight_scale.numpy().astype(np.float64).reshape(-1, 1, 1, 1)
    args = dict(stride=(2, 1), padding=[(1, 1), (0, 1)], dilation=(1, 2))
    b = conv.bias.numpy().astype(np.float64)
    expected = ref_conv(x.astype(np.float64), w, b, **args)
    bound = float_bound(x.astype(np.float64), w, b, reduction_length(w), **args) + U32 * np.abs(expected)
    assert np.all(np.abs(conv(tp.Tensor(x)).numpy() - expected) <= bound)


@pytest.mark.parametrize(
    "shape, out_channels, kernel, stride, padding, dilation, groups",
    [
        ((2, 3, 5), 4, (3,), (2,), (1,), (1,), 1),
        ((1, 4, 4, 5), 6, (3, 2), (2, 3), (1, 0), (1, 2), 2),
        ((1, 2, 3, 2, 3), 2, (2, 2, 2), (2, 1, 2), (0, 1, 0), (1, 1, 1), 2),
    ],
)
def test_conv_transpose_matches_torch(backend, shape, out_channels, kernel, stride, padding, dilation, groups):
    rank = len(kernel)
    ref = TORCH_T[rank](shape[1], out_channels, kernel, stride, padding, 0, groups, True, dilation, dtype=torch.float64)
    up = tp.ConvTranspose(shape[1], out_channels, kernel, [(p, p) for p in padding], stride, groups, dilation)
    assert up.weight.shape == tuple(ref.weight.shape)
    up.load_state_dict({"weight": ref.weight.detach().numpy(), "bias": ref.bias.detach().numpy()})
    x = _rand(shape, 9)
    got = up(tp.Tensor(x)).numpy().astype(np.float64)
    expected = ref(torch.tensor(x, dtype=torch.float64)).detach().numpy()
    assert got.shape == expected.shape
    absolute = TORCH_T[rank](
        shape[1], out_channels, kernel, stride, padding, 0, groups, True, dilation, dtype=torch.float64
    )
    with torch.no_grad():
        absolute.weight.copy_(ref.weight.abs())
        absolute.bias.copy_(ref.bias.abs())
        bound = (
            (shape[1] // groups * np.prod(kernel) + 2)
            * U32
            * absolute(torch.tensor(np.abs(x), dtype=torch.float64)).numpy()
        )
    assert np.all(np.abs(got - expected) <= bound)


def test_state_dict_and_printout():
    conv = tp.Conv(4, 8, (3, 3), padding=[(1, 1), (1, 1)], groups=2, quant_dtype=tp.int8, weight_quant_dim=0)
    assert conv.weight.shape == (8, 2, 3, 3) and conv.bias.shape == (8,)
    assert list(conv.state_dict()) == ["weight", "bias"]
    conv.load_state_dict({"weight_scale": np.ones(8, np.float32)}, strict=False)
    assert conv.weight_scale.shape == (8,)
    text = repr(conv)
    assert "kernel_dims=(3, 3)" in text and "groups=2" in text and "quant_dtype=int8" in text
    assert "input_scale: Parameter = None" in text
    assert list(tp.ConvTranspose(4, 6, (2,), groups=2).state_dict()) == ["weight", "bias"]
    assert tp.ConvTranspose(4, 6, (2,), groups=2).weight.shape == (4, 3, 2)
    assert tp.Conv(2, 2, (1,), bias=False).bias is None


# -- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: tp.Conv(3, 4, (3, 3), groups=2), r"`groups`=2 must divide both `in_channels`=3 and `out_channels`=4"),
        (lambda: tp.Conv(4, 4, (3, 3), stride=(1,)), r"`stride` must have one value per spatial dimension \(2\)"),
        (lambda: tp.Conv(4, 4, (3, 3), stride=(0, 1)), r"`stride` must hold ints >= 1"),
        (lambda: tp.Conv(4, 4, (3, 3), dilation=(1, -1)), r"`dilation` must hold ints >= 1"),
        (lambda: tp.Conv(4, 4, (3, 3), padding=[(1, -1), (0, 0)]), r"`padding` must not be negative"),
        (
            lambda: tp.Conv(4, 4, (3, 3), padding=[(1, 1)]),
            r"`padding` must have one \(before, after\) pair per spatial",
        ),
        (lambda: tp.Conv(4, 4, (3, 3), padding=[1, 1]), r"`padding` must be a sequence of \(before, after\) pairs"),
        (lambda: tp.Conv(4, 4, (3, 0)), r"`kernel_dims` must hold ints >= 1"),
        (lambda: tp.Conv(4, 4, (1, 1, 1, 1)), r"`kernel_dims` must be a sequence of 1 to 3"),
        (lambda: tp.Conv(4, 4, (3, 3), groups=0), r"`groups` must be a positive int"),
        (lambda: tp.Conv(4, 4, (3, 3), quant_dtype=tp.int32), r"`quant_dtype` must be int8, int4, float8 or None"),
        (lambda: tp.Conv(4, 4, (3, 3), quant_dtype=tp.int8, weight_quant_dim=1), r"`weight_quant_dim` must be None"),
        (lambda: tp.ConvTranspose(4, 6, (3,), groups=4), r"`groups`=4 must divide both"),
    ],
)
def test_bad_settings_name_the_argument(make, message):
    with pytest.raises(tp.TripyException, match=message) as exc:
        make()
    assert "Called at" in str(exc.value)


def test_bad_setting_points_at_the_users_line():
    with pytest.raises(tp.TripyException, match="`stride` must have one value per spatial dimension") as exc:
        line = here() + 1
        tp.Conv(4, 4, (3, 3), stride=(1, 1, 1))
    assert_user_line(exc, FILE, line)


@pytest.mark.parametrize(
    "shape, dtype, message",
    [
        ((1, 3, 8, 8), tp.float32, r"Conv: the input must have shape \(N, 4, \.\.\.\) with 2 spatial dimension"),
        ((1, 4, 8), tp.float32, r"Conv: the input must have shape \(N, 4, \.\.\.\)"),
        ((1, 4, 8, 8), tp.float16, r"Conv: the input is float16 but the layer is float32"),
        (
            (1, 4, 2, 8),
            tp.float32,
            r"the window \(kernel_dims=\(3, 3\), dilation=\(1, 1\)\) spans more than the padded",
        ),
    ],
)
def test_bad_input_points_at_the_call_and_the_input(backend, shape, dtype, message):
    conv = tp.Conv(4, 4, (3, 3))
    x_line = here() + 1
    x = tp.ones(shape, dtype)
    with pytest.raises(tp.TripyException, match=message) as exc:
        line = here() + 1
        conv(x)
    assert mentions(assert_user_line(exc, FILE, line), FILE, x_line)


def test_quantized_conv_needs_weight_scale_and_a_scalar_input_scale(backend):
    conv = tp.Conv(2, 2, (1, 1), quant_dtype=tp.int8, weight_quant_dim=0)
    x = tp.ones((1, 2, 2, 2))
    with pytest.raises(tp.TripyException, match="has no `weight_scale`") as exc:
        line = here() + 1
        conv(x)
    assert_user_line(exc, FILE, line)
    conv.weight_scale = tp.Tensor([1.0, 1.0])
    conv.input_scale = tp.Tensor([1.0, 1.0])
    with pytest.raises(tp.TripyException, match="`input_scale` must be a scalar") as exc:
        line = here() + 1
        conv(x)
    assert_user_line(exc, FILE, line)
    conv.input_scale = tp.Tensor(1.0)
    conv.weight_scale = tp.Tensor([1.0, 1.0, 1.0])
    with pytest.raises(tp.TripyException, match=r"per-channel `scale` along `dim`=0 must have shape \(2,\)"):
        conv(x)


def test_float8_conv_fake_quantizes_input_and_weight(backend):
    conv = tp.Conv(2, 3, (3,), padding=[(1, 1)], quant_dtype=tp.float8, weight_quant_dim=0)
    conv.weight = _rand(conv.weight.shape, 12)
    conv.weight_scale = np.full(3, 2.0 / 448, np.float32)
    conv.input_scale = np.float32(2.0 / 448)
    x = tp.Tensor(_rand((1, 2, 6), 13))
    fake_x = tp.dequantize(tp.quantize(x, conv.input_scale, tp.float8), conv.input_scale, tp.float32)
    fake_w = tp.dequantize(tp.quantize(conv.weight, conv.weight_scale, tp.float8, 0), conv.weight_scale, tp.float32, 0)
    w, b = fake_w.numpy().astype(np.float64), conv.bias.numpy().astype(np.float64)
    expected = ref_conv(fake_x.numpy().astype(np.float64), w, b, padding=[(1, 1)])
    bound = float_bound(fake_x.numpy().astype(np.float64), w, b, reduction_length(w), padding=[(1, 1)])
    assert np.all(np.abs(conv(x).numpy() - expected) <= bound)
    assert not np.allclose(fake_w.numpy(), conv.weight.numpy(), rtol=0, atol=1e-6)  # float8 rounding did happen


def test_conv_transpose_padding_that_removes_everything():
    up = tp.ConvTranspose(1, 1, (2,), padding=[(1, 1)])
    with pytest.raises(tp.TripyException, match=r"`padding`=\(\(1, 1\),\) removes all of the output") as exc:
        line = here() + 1
        up(tp.ones((1, 1, 1)))
    assert_user_line(exc, FILE, line)
