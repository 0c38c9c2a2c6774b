"""The prebuilt Hopper int8 library (CPU checks: no GPU needed): present, built from the source in the
repository, and exporting the functions :mod:`tripy.backend.cuda.fused_gemm` calls."""

from __future__ import annotations

from tripy.backend.cuda import fused_gemm


def test_library_is_built_from_the_current_source():
    # The build records the source's SHA-256 in the library; an edited .cu needs tools/build_int8_linear.py.
    data = fused_gemm.LIBRARY.read_bytes()
    assert data[:4] == b"\x7fELF", "not a shared object"
    assert fused_gemm.source_digest().encode() in data, (
        f"{fused_gemm.LIBRARY.name} is stale: rebuild it with python tools/build_int8_linear.py"
    )


def test_library_exports_the_functions_the_loader_calls():
    data = fused_gemm.LIBRARY.read_bytes()
    for suffix in ("", "_workspace", "_source", "_config"):
        symbol = f"tripy_int8_linear{suffix}".encode() + b"\x00"
        assert symbol in data


def test_alignment_rules():
    supports = fused_gemm.FusedInt8Linear.supports
    assert supports(2304, 768, "float16") and supports(8, 16, "float16") and supports(4, 16, "float32")
    assert not supports(2304, 760, "float16")  # K not a multiple of 16
    assert not supports(20, 768, "float16")  # 40-byte output rows
    assert not supports(6, 768, "float32")  # 24-byte output rows
    assert not supports(64, 64, "int32")
