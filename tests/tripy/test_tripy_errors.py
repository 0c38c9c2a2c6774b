"""User errors: one exception type, a message naming what and which argument, and the user's own line.

Each test records the line of the offending statement and checks that the error's "Called at" location is
exactly that line of this file (never a file inside tripy), and, where a tensor argument is at fault, that
the message also points at the line that created it.
"""

import inspect
import re

import numpy as np
import pytest
from tripy_testing import assert_user_line, mentions

import tripy as tp

FILE = __file__


def here() -> int:
    """The caller's current line number."""
    return inspect.currentframe().f_back.f_lineno


# -- shapes of binary ops and matmul -----------------------------------------------------------------
def test_binary_op_shape_mismatch(backend):
    a_line = here() + 1
    a = tp.ones((2, 3))
    b_line = here() + 1
    b = tp.ones((3, 2))
    with pytest.raises(
        tp.TripyException,
        match=r"shapes \(2, 3\) of `input` and \(3, 2\) of `other` cannot be "
        r"broadcast",
    ) as exc:
        line = here() + 1
        a + b
    message = assert_user_line(exc, FILE, line)
    assert mentions(message, FILE, a_line) and mentions(message, FILE, b_line)
    assert "`input` was created at" in message and "`other` was created at" in message


@pytest.mark.parametrize(
    "fn",
    [lambda a, b: a * b, lambda a, b: a < b, tp.maximum, lambda a, b: tp.where(a > 0, a, b)],
    ids=["mul", "lt", "maximum", "where"],
)
def test_every_broadcasting_op_checks_shapes(backend, fn):
    a, b = tp.ones((4,)), tp.ones((5,))
    with pytest.raises(tp.TripyException, match=r"\(4,\).*\(5,\).*cannot be broadcast") as exc:
        line = here() + 1
        fn(a, b)
    # A lambda written here is user code: the error points into it; tp.maximum is called from this line.
    assert_user_line(exc, FILE, fn.__code__.co_firstlineno if fn.__name__ == "<lambda>" else line)


def test_binary_op_dtype_mismatch(backend):
    a, b = tp.ones((2,)), tp.ones((2,), dtype=tp.int32)
    with pytest.raises(tp.TripyException, match=r"`input` is float32 and `other` is int32.*tp.cast") as exc:
        line = here() + 1
        a - b
    assert_user_line(exc, FILE, line)


def test_fractional_python_float_with_int_tensor(backend):
    x = tp.Tensor([1, 2])
    with pytest.raises(tp.TripyException, match=r"`other` is the float 1.5 but the other operand is int32") as exc:
        line = here() + 1
        x + 1.5
    assert_user_line(exc, FILE, line)


def test_matmul_inner_dimension_mismatch(backend):
    a_line = here() + 1
    a = tp.ones((2, 3))
    b_line = here() + 1
    b = tp.ones((4, 5))
    with pytest.raises(
        tp.TripyException,
        match=r"matmul: the inner dimensions do not match: `input` has shape "
        r"\(2, 3\) and `other` has shape \(4, 5\)",
    ) as exc:
        line = here() + 1
        a @ b
    message = assert_user_line(exc, FILE, line)
    assert mentions(message, FILE, a_line) and mentions(message, FILE, b_line)


def test_matmul_batch_and_rank_errors(backend):
    with pytest.raises(tp.TripyException, match=r"batch dimensions \(2,\) and \(3,\) cannot be broadcast") as exc:
        line = here() + 1
        tp.matmul(tp.ones((2, 2, 3)), tp.ones((3, 3, 2)))
    assert_user_line(exc, FILE, line)
    with pytest.raises(tp.TripyException, match=r"rank >= 1") as exc:
        line = here() + 1
        tp.Tensor(1.0) @ tp.ones((2,))
    assert_user_line(exc, FILE, line)
    with pytest.raises(tp.TripyException, match=r"`input` is float32 but `other` is float16") as exc:
        line = here() + 1
        tp.ones((2, 2)) @ tp.ones((2, 2), dtype=tp.float16)
    assert_user_line(exc, FILE, line)


# -- quantization --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "scale_shape, dim, pattern",
    [
        (
            (2,),
            1,
            r"per-channel `scale` along `dim`=1 must have shape \(3,\) to match `input` of shape \(2, 3\), "
            r"but it has shape \(2,\)",
        ),
        ((3,), 0, r"per-channel `scale` along `dim`=0 must have shape \(2,\)"),
        ((2, 3), 0, r"per-channel `scale` along `dim`=0 must have shape \(2,\).*\(2, 3\)"),
        (
            (3,),
            None,
            r"with `dim`=None, `scale` must be a scalar \(per-tensor\) or 2-D \(block-wise int4\), but it has "
            r"shape \(3,\)",
        ),
        ((1, 1, 1), None, r"`scale` must be a scalar.*shape \(1, 1, 1\)"),
    ],
)
def test_scale_shape_must_fit_dim(backend, scale_shape, dim, pattern):
    x = tp.ones((2, 3))
    scale_line = here() + 1
    scale = tp.ones(scale_shape)
    for op, arg in ((tp.quantize, x), (tp.dequantize, tp.cast(x, tp.int8))):
        with pytest.raises(tp.TripyException, match=pattern) as exc:
            line = here() + 1
            op(arg, scale, tp.int8 if op is tp.quantize else tp.float32, dim)
        message = assert_user_line(exc, FILE, line)
        assert "`scale` was created at" in message and mentions(message, FILE, scale_line)


def test_block_wise_scale_errors(backend):
    x = tp.ones((4, 6))
    with pytest.raises(
        tp.TripyException,
        match=r"block-wise `scale` of shape \(3, 4\) does not tile `input` of "
        r"shape \(4, 6\)",
    ) as exc:
        line = here() + 1
        tp.quantize(x, tp.ones((3, 4)), tp.int4)
    assert_user_line(exc, FILE, line)
    with pytest.raises(
        tp.TripyException,
        match=r"2-D `scale` means block-wise quantization, which needs dtype int4"
        r".*got dtype int8",
    ) as exc:
        line = here() + 1
        tp.quantize(x, tp.ones((2, 3)), tp.int8)
    assert_user_line(exc, FILE, line)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("layout", ["tensor", "channel"])
def test_scale_must_be_positive_and_finite(backend, bad, layout):
    x = tp.ones((2, 3))
    scale_line = here() + 1
    scale = tp.Tensor(bad) if layout == "tensor" else tp.Tensor([1.0, bad])
    dim = None if layout == "tensor" else 0
    pattern = rf"quantize: `scale` must hold positive, finite values, but it holds {re.escape(str(bad))} \(1 of "
    with pytest.raises(tp.TripyException, match=pattern + rf"{1 if dim is None else 2} values") as exc:
        line = here() + 1
        tp.quantize(x, scale, tp.int8, dim)
    message = assert_user_line(exc, FILE, line)
    assert mentions(message, FILE, scale_line)
    with pytest.raises(tp.TripyException, match=r"dequantize: `scale` must hold positive, finite values") as exc:
        line = here() + 1
        tp.dequantize(tp.ones((2, 3), dtype=tp.int8), scale, tp.float32, dim)
    assert_user_line(exc, FILE, line)


def test_python_scalar_scale_is_checked_too(backend):
    with pytest.raises(tp.TripyException, match=r"`scale` must hold positive, finite values, but it holds -0.5") as exc:
        line = here() + 1
        tp.quantize(tp.ones((2,)), -0.5, tp.int8)
    assert_user_line(exc, FILE, line)


@pytest.mark.parametrize("dtype", [tp.float32, tp.float16, tp.int32, tp.bool, "int8"])
def test_quantize_to_a_non_quantized_dtype(backend, dtype):
    with pytest.raises(tp.TripyException, match=r"quantize: `dtype` must be one of int8, int4, float8") as exc:
        line = here() + 1
        tp.quantize(tp.ones((2,)), 1.0, dtype)
    assert_user_line(exc, FILE, line)


def test_quantize_and_dequantize_input_and_dtype_checks(backend):
    ints = tp.Tensor([1, 2])
    with pytest.raises(
        tp.TripyException,
        match=r"quantize: `input` must be a float32, float16 or bfloat16 tensor, "
        r"but it is int32",
    ) as exc:
        line = here() + 1
        tp.quantize(ints, 1.0, tp.int8)
    assert_user_line(exc, FILE, line)
    with pytest.raises(
        tp.TripyException,
        match=r"dequantize: `input` must be an int8, int4 or float8 tensor, but "
        r"it is float32",
    ) as exc:
        line = here() + 1
        tp.dequantize(tp.ones((2,)), 1.0, tp.float32)
    assert_user_line(exc, FILE, line)
    with pytest.raises(
        tp.TripyException,
        match=r"dequantize: `dtype` must be float32, float16 or bfloat16, but it "
        r"is int32",
    ) as exc:
        line = here() + 1
        tp.dequantize(tp.ones((2,), dtype=tp.int8), 1.0, tp.int32)
    assert_user_line(exc, FILE, line)
    with pytest.raises(tp.TripyException, match=r"`scale` must be float32, float16 or bfloat16, but it is int32"):
        tp.quantize(tp.ones((2,)), tp.Tensor(1), tp.int8)


# -- Linear ----------------------------------------------------------------------------------------
def test_quantized_linear_without_weight_scale(backend):
    linear = tp.Linear(4, 2, quant_dtype=tp.int8)
    x = tp.ones((1, 4))
    with pytest.raises(
        tp.TripyException,
        match=r"Linear: this quantized Linear has no `weight_scale`: set it before "
        r"calling the module",
    ) as exc:
        line = here() + 1
        linear(x)
    assert_user_line(exc, FILE, line)


def test_non_scalar_input_scale(backend):
    linear = tp.Linear(4, 2, quant_dtype=tp.int8)
    linear.weight_scale = tp.Parameter(1.0)
    scale_line = here() + 1
    linear.input_scale = tp.Parameter([1.0, 1.0])
    with pytest.raises(
        tp.TripyException,
        match=r"Linear: `input_scale` must be a scalar \(per-tensor quantization "
        r"of the input\), but it has shape \(2,\)",
    ) as exc:
        line = here() + 1
        linear(tp.ones((1, 4)))
    message = assert_user_line(exc, FILE, line)
    assert mentions(message, FILE, scale_line)


def test_weight_scale_that_does_not_fit_weight_quant_dim(backend):
    linear = tp.Linear(4, 2, quant_dtype=tp.int8, weight_quant_dim=0)
    linear.weight_scale = tp.Parameter([1.0, 1.0, 1.0, 1.0])
    with pytest.raises(tp.TripyException, match=r"per-channel `scale` along `dim`=0 must have shape \(2,\)") as exc:
        line = here() + 1
        linear(tp.ones((1, 4)))
    assert_user_line(exc, FILE, line)


def test_zero_weight_scale_in_linear(backend):
    linear = tp.Linear(4, 2, quant_dtype=tp.int8)
    linear.weight_scale = tp.Parameter(0.0)
    with pytest.raises(tp.TripyException, match=r"`scale` must hold positive, finite values, but it holds 0.0") as exc:
        line = here() + 1
        linear(tp.ones((1, 4)))
    assert_user_line(exc, FILE, line)


def test_linear_construction_checks(backend):
    with pytest.raises(tp.TripyException, match=r"`quant_dtype` must be int8, int4, float8 or None, not int32") as exc:
        line = here() + 1
        tp.Linear(2, 2, quant_dtype=tp.int32)
    assert_user_line(exc, FILE, line)
    with pytest.raises(tp.TripyException, match=r"`weight_quant_dim` must be None, 0 or 1, not 2") as exc:
        line = here() + 1
        tp.Linear(2, 2, quant_dtype=tp.int8, weight_quant_dim=2)
    assert_user_line(exc, FILE, line)


def test_layer_input_checks(backend):
    x_line = here() + 1
    x = tp.ones((2, 5))
    with pytest.raises(
        tp.TripyException,
        match=r"Linear: the input's last dimension must be in_features=4, but "
        r"the input has shape \(2, 5\)",
    ) as exc:
        line = here() + 1
        tp.Linear(4, 2)(x)
    assert mentions(assert_user_line(exc, FILE, line), FILE, x_line)
    with pytest.raises(tp.TripyException, match=r"LayerNorm: the input's last dimensions must be \(4,\)") as exc:
        line = here() + 1
        tp.LayerNorm(4)(x)
    assert_user_line(exc, FILE, line)
    with pytest.raises(
        tp.TripyException,
        match=r"Embedding: the input must be an int32 or int64 tensor of ids, not "
        r"float32",
    ) as exc:
        line = here() + 1
        tp.Embedding(4, 2)(x)
    assert_user_line(exc, FILE, line)


class UserModel(tp.Module):
    def __init__(self):
        self.proj = tp.Linear(3, 2)

    def forward(self, x):
        return self.proj(x) + tp.ones((5,))


FORWARD_LINE = inspect.getsourcelines(UserModel.forward)[1] + 1


def test_error_inside_a_user_module_points_at_the_users_forward(backend):
    with pytest.raises(tp.TripyException, match=r"shapes \(1, 2\) of `input` and \(5,\) of `other`") as exc:
        UserModel()(tp.ones((1, 3)))
    assert_user_line(exc, FILE, FORWARD_LINE)


# -- load_state_dict -----------------------------------------------------------------------------------
def test_load_state_dict_missing_keys(backend):
    linear = tp.Linear(2, 2)
    with pytest.raises(
        tp.TripyException,
        match=r"load_state_dict: the state dict does not match Linear "
        r"\(missing keys: bias\)",
    ) as exc:
        line = here() + 1
        linear.load_state_dict({"weight": np.zeros((2, 2))})
    assert_user_line(exc, FILE, line)


def test_load_state_dict_unexpected_keys(backend):
    model = tp.Sequential(tp.Linear(2, 2))
    state = {"0.weight": np.zeros((2, 2)), "0.bias": np.zeros(2), "1.weight": np.zeros(2), "0.extra": np.zeros(1)}
    with pytest.raises(tp.TripyException, match=r"unexpected keys: 1.weight, 0.extra") as exc:
        line = here() + 1
        model.load_state_dict(state)
    message = assert_user_line(exc, FILE, line)
    assert "missing keys" not in message


def test_load_state_dict_rejects_a_bias_for_a_linear_without_one(backend):
    with pytest.raises(tp.TripyException, match=r"unexpected keys: bias") as exc:
        line = here() + 1
        tp.Linear(2, 2, bias=False).load_state_dict({"weight": np.zeros((2, 2)), "bias": np.zeros(2)})
    assert_user_line(exc, FILE, line)


def test_load_state_dict_both_missing_and_unexpected(backend):
    with pytest.raises(tp.TripyException, match=r"missing keys: weight, bias; unexpected keys: weights") as exc:
        line = here() + 1
        tp.Linear(2, 2).load_state_dict({"weights": np.zeros((2, 2))})
    assert_user_line(exc, FILE, line)


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_wrong_shape(backend, strict):
    linear = tp.Linear(3, 2)
    with pytest.raises(
        tp.TripyException,
        match=r"load_state_dict: `weight` has shape \(3, 2\) in the state dict "
        r"but \(2, 3\) in Linear",
    ) as exc:
        line = here() + 1
        linear.load_state_dict({"weight": np.zeros((3, 2)), "bias": np.zeros(2)}, strict=strict)
    assert_user_line(exc, FILE, line)


def test_load_state_dict_wrong_shape_of_a_nested_parameter(backend):
    model = tp.Sequential(tp.Linear(2, 2), tp.LayerNorm(2))
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    state["1.bias"] = np.zeros(3)
    with pytest.raises(tp.TripyException, match=r"`1.bias` has shape \(3,\) in the state dict but \(2,\)") as exc:
        line = here() + 1
        model.load_state_dict(state)
    assert_user_line(exc, FILE, line)


# -- configuration ---------------------------------------------------------------------------------
def test_unknown_backend_name():
    previous = tp.config.backend
    with pytest.raises(
        tp.TripyException,
        match=r"Unknown backend 'cdua' for `tp.config.backend`: expected one of "
        r".*Did you mean 'cuda'\?",
    ) as exc:
        line = here() + 1
        tp.config.backend = "cdua"
    assert_user_line(exc, FILE, line)
    assert tp.config.backend == previous


# -- other argument checks -------------------------------------------------------------------------
CHECKS = [
    (lambda: tp.Tensor([[1, 2], [3]]), r"`data` of tp.Tensor is not a rectangular nested list"),
    (lambda: tp.Tensor("text"), r"`data` of tp.Tensor has an unsupported element type"),
    (lambda: tp.Tensor([1.0], dtype=np.float32), r"`dtype` of tp.Tensor must be a tripy data type"),
    (lambda: tp.Tensor([1.0], device="tpu"), r"Unknown `device` 'tpu'"),
    (lambda: tp.ones((2, -1)), r"ones|full: `shape` must be a sequence of non-negative ints"),
    (lambda: tp.iota((2, 3), dim=2), r"iota: `dim`=2 is out of range for a tensor of rank 2"),
    (lambda: tp.full((2,), 1.0, dtype="float32"), r"full: `dtype` must be a tripy data type"),
    (lambda: tp.arange(0, 4, 0), r"arange: `step` must not be zero"),
    (lambda: tp.tril(tp.ones((3,))), r"tril: `input` must have rank >= 2"),
    (lambda: tp.exp(tp.Tensor([1])), r"exp: `input` must have a floating-point dtype, but it is int32"),
    (lambda: tp.softmax(tp.Tensor([1, 2])), r"softmax: `input` must have a floating-point dtype"),
    (lambda: tp.softmax(tp.ones((2, 2)), dim=2), r"softmax: `dim`=2 is out of range"),
    (lambda: tp.mean(tp.Tensor([1, 2])), r"mean: `input` must have a floating-point dtype"),
    (lambda: tp.var(tp.Tensor([1, 2])), r"var: `input` must have a floating-point dtype, but it is int32"),
    (lambda: tp.sum(tp.ones((2,)), dim=1), r"sum: `dim`=1 is out of range for a tensor of rank 1"),
    (lambda: tp.argmax(tp.ones((2,)), dim=-2), r"argmax: `dim`=-2 is out of range"),
    (lambda: tp.where(tp.Tensor([1, 0]), 1.0, 2.0), r"where: `condition` must have dtype bool, but it is int32"),
    (lambda: tp.where(tp.Tensor([True]), tp.ones((1,)), tp.Tensor([1])), r"where: `input` is float32 but `other`"),
    (lambda: tp.cast(tp.ones((1,)), "float16"), r"cast: `dtype` must be a tripy data type"),
    (lambda: tp.reshape(tp.ones((2, 3)), (4, -1)), r"reshape: cannot reshape \(2, 3\) \(6 elements\) to \(4, -1\)"),
    (lambda: tp.reshape(tp.ones((2, 3)), (5,)), r"reshape: cannot reshape \(2, 3\) \(6 elements\) to \(5,\)"),
    (lambda: tp.reshape(tp.ones((2, 3)), (-1, -1)), r"reshape: `shape` \(-1, -1\) may hold"),
    (lambda: tp.permute(tp.ones((2, 3)), (0, 0)), r"permute: `perm` \(0, 0\) is not a permutation"),
    (lambda: tp.transpose(tp.ones((2, 3)), 0, 2), r"transpose: `dim1`=2 is out of range"),
    (lambda: tp.flatten(tp.ones((2, 3, 4)), 2, 1), r"flatten: `start_dim`=2 comes after `end_dim`=1"),
    (lambda: tp.squeeze(tp.ones((2, 3)), 0), r"squeeze: dimension 0 of `input` has size 2, not 1"),
    (lambda: tp.expand(tp.ones((2, 3)), (4, 3)), r"expand: cannot expand shape \(2, 3\) to \(4, 3\)"),
    (lambda: tp.expand(tp.ones((2, 3)), (3,)), r"expand: `sizes` \(3,\) has fewer dimensions"),
    (lambda: tp.repeat(tp.ones((2,)), -1, 0), r"repeat: `repeats` must be a non-negative int"),
    (lambda: tp.concatenate([tp.ones((2, 3)), tp.ones((2, 2))], 0), r"concatenate: tensors\[1\] has shape \(2, 2\)"),
    (lambda: tp.concatenate([tp.ones((2,)), tp.ones((2,), dtype=tp.int32)], 0), r"tensors\[1\] is int32"),
    (lambda: tp.concatenate([], 0), r"concatenate: `tensors` is empty"),
    (lambda: tp.stack([tp.ones((2, 3)), tp.ones((2, 2))]), r"stack: tensors\[1\] has shape \(2, 2\)"),
    (lambda: tp.split(tp.ones((5,)), 2), r"split: dimension 0 of size 5 cannot be split into 2 equal parts"),
    (lambda: tp.split(tp.ones((5,)), [2, 2]), r"split: sizes \[2, 2\] do not add up to dimension 0 of size 5"),
    (lambda: tp.gather(tp.ones((5,)), 0, tp.Tensor([1.0])), r"gather: `index` must be int32 or int64"),
    (lambda: tp.ones((2,))[0, 0], r"Indexing: too many indices \(2\) for a tensor of rank 1"),
    (lambda: tp.ones((2,))[..., ...], r"Indexing: at most one '...' is allowed"),
    (lambda: tp.ones((2,))["a"], r"Indexing: unsupported index 'a'"),
    (lambda: tp.ones((2,))[tp.ones((2,)) > 0], r"Indexing with a boolean mask is not supported.*tp.where"),
    (lambda: bool(tp.ones((2,))), r"The truth value of a tensor of shape \(2,\) is ambiguous"),
    (lambda: len(tp.Tensor(1.0)), r"len\(\) of a rank-0 tensor"),
    (lambda: float(tp.ones((2,))), r"float\(\) needs a tensor of one element, but this one has shape \(2,\)"),
    (lambda: int(tp.ones((1, 3))), r"int\(\) needs a tensor of one element"),
    (lambda: tp.allclose(tp.ones((2,)), tp.ones((3,))), r"allclose: shapes \(2,\) of `input` and \(3,\) of `other`"),
    (lambda: tp.Sequential(tp.Linear(2, 2), 3), r"Sequential: entry '1' is a int, not a tp.Module"),
    (lambda: tp.Module()(1), r"Module does not implement `forward`"),
    (
        lambda: tp.Tensor([1], dtype=tp.int8) + 300,
        r"'\+': `other`=300 does not fit the other operand's dtype int8 "
        r"\(-128..127\)",
    ),
    (lambda: 2**40 * tp.Tensor([1]), r"`input`=1099511627776 does not fit the other operand's dtype int32"),
    (lambda: tp.Tensor([1, 2]) + float("nan"), r"`other` is the float nan but the other operand is int32"),
    (lambda: ~tp.Tensor([1, 0]), r"'~': `input` must be bool \(a mask\), but it is int32"),
    (lambda: -tp.Tensor([True]), r"'-': `input` must not be bool \(use ~ for logical not\)"),
    (lambda: tp.Tensor([1, 2]) & tp.Tensor([3, 1]), r"'&' is a logical operator: its operands must be bool"),
    (lambda: tp.ones((2,)) | 1.0, r"'\|' is a logical operator: its operands must be bool, but they are float32"),
    (lambda: tp.Tensor([True]) / tp.Tensor([True]), r"'/' does not take bool operands; tp.cast them"),
    (lambda: tp.Tensor([True]) - True, r"'-' does not take bool operands"),
    (lambda: tp.exp(tp.Tensor([True])), r"exp: `input` must have a floating-point dtype, but it is bool"),
    (lambda: tp.Tensor([2**40]), r"`data` of tp.Tensor holds Python ints beyond the int32 range.*dtype=tp.int64"),
]


@pytest.mark.parametrize("call, pattern", CHECKS, ids=lambda v: v if isinstance(v, str) else "")
def test_argument_checks(backend, call, pattern):
    with pytest.raises(tp.TripyException, match=pattern) as exc:
        call()
    # The lambda's own line in CHECKS is the user's line.
    assert_user_line(exc, FILE, inspect.getsourcelines(call)[1])


def test_out_of_range_int_index_is_an_index_error(backend):
    # IndexError (not TripyException) ends Python's iteration protocol over __getitem__.
    with pytest.raises(IndexError, match=r"index 5 is out of range for dimension 0 of size 2"):
        tp.ones((2,))[5]


def test_only_one_exception_type():
    assert tp.TripyError is tp.TripyException and issubclass(tp.TripyException, Exception)


def test_each_tensor_knows_its_line_in_loops_and_in_code_made_again_and_again():
    x = tp.Tensor([1.0, 2.0])
    made = [x + 1 for _ in range(3)]
    other = x * 2
    line = inspect.currentframe().f_lineno
    assert {t.where.lineno for t in made} == {line - 2} and other.where.lineno == line - 1
    assert made[0].where == made[1].where and made[0].where.filename == __file__
    # Cells compiled and dropped one after another (a guide's blocks, a notebook's cells): code objects come
    # and go, and their ids are reused; each tensor still gets its own cell's line and name.
    for i in range(300):
        namespace = {"x": x}
        exec(compile("\n" * (i % 7) + "def cell():\n    return x - 1\nt = cell()", f"<cell {i}>", "exec"), namespace)
        where = namespace["t"].where
        assert (where.filename, where.lineno, where.function) == (f"<cell {i}>", i % 7 + 2, "cell")
