"""The signature of an evaluation: equal for the same structure on other values, and which tensors are wanted."""

from __future__ import annotations

import numpy as np

import tripy as tp
from tripy.trace.node import topological_order
from tripy.trace.signature import signature


def _layer(x: tp.Tensor, w: tp.Tensor, dim: int = 0) -> tp.Tensor:
    return tp.sum(tp.gelu(x @ w + 1.0) * 2.0, dim=dim)


def _sig(out: tp.Tensor):
    order = topological_order([out])
    return order, signature(order, [out])


def test_the_same_trace_on_other_values_has_the_same_key():
    w = tp.Tensor(np.ones((4, 3), np.float32))
    first = _sig(_layer(tp.Tensor(np.zeros((2, 4), np.float32)), w))[1]
    second = _sig(_layer(tp.Tensor(np.full((2, 4), 5.0, np.float32)), w))[1]
    assert first is not None and second is not None
    assert first.key == second.key and hash(first.key) == hash(second.key)
    assert len(first.leaves) == len(second.leaves) >= 2


def test_another_shape_dtype_or_field_changes_the_key_but_not_another_number():
    w = tp.Tensor(np.ones((4, 3), np.float32))
    base = _sig(_layer(tp.Tensor(np.zeros((2, 4), np.float32)), w))[1]
    other_shape = _sig(_layer(tp.Tensor(np.zeros((5, 4), np.float32)), w))[1]
    other_field = _sig(_layer(tp.Tensor(np.zeros((2, 4), np.float32)), w, dim=1))[1]
    other_dtype = _sig(_layer(tp.Tensor(np.zeros((2, 4), np.float16)), tp.cast(w, tp.float16).eval()))[1]
    other_value = _sig(tp.sum(tp.gelu(tp.Tensor(np.zeros((2, 4), np.float32)) @ w + 1.0) * 3.0, dim=0))[1]
    keys = {base.key, other_shape.key, other_field.key, other_dtype.key}
    assert len(keys) == 4
    assert other_value.key == base.key  # a Python number is a value: only values differ


def test_wiring_is_part_of_the_key():
    a = tp.Tensor(np.ones((3,), np.float32))
    b = tp.Tensor(np.ones((3,), np.float32))
    same_twice = _sig((a + 1.0) * (a + 1.0))[1]  # one leaf used by both sums
    two_leaves = _sig((a + 1.0) * (b + 1.0))[1]
    assert same_twice.key != two_leaves.key
    assert len(two_leaves.leaves) == len(same_twice.leaves) + 1


def test_outputs_and_tensors_referenced_outside_the_trace_are_wanted():
    x = tp.Tensor(np.ones((2, 3), np.float32))
    hidden = x * 2.0
    referenced = hidden + 1.0  # a variable of the caller's
    held = [referenced * 3.0]  # held by a list
    out = tp.exp(held[0]) - hidden  # `hidden` is also a variable
    order, sig = _sig(out)
    wanted = {id(order[n]) for n in sig.kept}
    named = {id(out), id(referenced), id(held[0]), id(hidden)}
    assert wanted == named  # exp(...) is read only by the subtraction
    assert len(order) > len(named)  # and the reshapes of the Python numbers


def test_a_tensor_read_by_a_node_outside_the_evaluation_is_wanted():
    x = tp.Tensor(np.ones((2,), np.float32))
    shared = tp.exp(x)
    _later = shared * 5.0  # not evaluated now, but it will need `shared`
    out = tp.sum(shared, dim=0)
    del shared
    order, sig = _sig(out)
    wanted = {id(order[n]) for n in sig.kept}
    assert wanted == {id(out), id(_later.node.inputs[0])}


def test_a_chain_referenced_by_nothing_else_wants_only_its_output():
    out = tp.sum(tp.exp(tp.Tensor([1.0, 2.0])) * 2.0, dim=0)
    order, sig = _sig(out)
    assert [id(order[n]) for n in sig.kept] == [id(out)]
