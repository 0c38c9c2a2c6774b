"""tp.floating and tp.integer: which data types each holds."""

import tripy as tp


def test_membership():
    assert [d for d in tp.dtypes.ALL if d in tp.floating] == [tp.float32, tp.float16, tp.bfloat16, tp.float8]
    assert [d for d in tp.dtypes.ALL if d in tp.integer] == [tp.int4, tp.int8, tp.int32, tp.int64]
    assert tp.bool not in tp.floating and tp.bool not in tp.integer
    assert "float32" not in tp.floating  # data types, not their names


def test_isinstance_and_issubclass_as_nvtripy_code_writes_them():
    assert issubclass(tp.float16, tp.floating) and not issubclass(tp.int8, tp.floating)
    assert isinstance(tp.int64, tp.integer) and not isinstance(tp.bool, tp.integer)


def test_tensor_checks_and_printing():
    assert tp.ones((2,)).dtype in tp.floating
    assert tp.ones((2,), tp.int8).dtype in tp.integer
    assert len(tp.floating) == 4 and list(tp.integer)[0] is tp.int4
    assert str(tp.floating) == "floating" and repr(tp.integer) == "integer"
    assert "floating" in tp.__all__ and "integer" in tp.__all__
