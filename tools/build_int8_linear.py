"""Build tripy's fused int8 Linear library for Hopper GPUs (no GPU needed to build).

    python tools/build_int8_linear.py

compiles ``tripy/backend/cuda/csrc/int8_linear_sm90.cu`` into ``tripy/backend/cuda/lib/libtripy_int8_linear_sm90.so``
(sm_90a machine code, CUDA runtime linked statically, the source's SHA-256 recorded inside). The toolchain is
the pinned CUDA 13.0 compiler and CUTLASS 4.2 headers from their PyPI wheels, fetched once into
``~/.cache/tripy-build`` (``--cache`` to move it); it runs on x86-64 Linux with a host C++ compiler (g++).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tripy.backend.cuda.fused_gemm import LIBRARY, SOURCE, source_digest  # noqa: E402

WHEELS = [
    "nvidia-cuda-nvcc==13.0.88",
    "nvidia-cuda-cccl==13.0.85",
    "nvidia-cuda-runtime==13.0.96",
    "nvidia-cuda-crt==13.0.88",
    "nvidia-nvvm==13.0.88",
    "nvidia-cutlass==4.2.0.0",
]


def toolchain(cache: Path) -> tuple[Path, Path]:
    """(CUDA home, CUTLASS include dir), fetched and unpacked into ``cache`` on first use."""
    cuda, cutlass = cache / "nvidia" / "cu13", cache / "cutlass_library" / "source" / "include"
    if (cuda / "bin" / "nvcc").exists() and (cutlass / "cutlass").is_dir():
        return cuda, cutlass
    wheels = cache / "wheels"
    print(f"fetching {', '.join(WHEELS)} into {wheels}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(wheels), *WHEELS],
        check=True,
    )
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if n.startswith(("nvidia/", "cutlass_library/source/include/"))]
            zf.extractall(cache, members=names)
    for tool in (cuda / "bin").iterdir():
        tool.chmod(0o755)
    for tool in (cuda / "nvvm" / "bin").iterdir():
        tool.chmod(0o755)
    return cuda, cutlass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "tripy-build")
    parser.add_argument("--output", type=Path, default=LIBRARY)
    args = parser.parse_args()
    cuda, cutlass = toolchain(args.cache)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(cuda / "bin" / "nvcc"),
        "-std=c++17",
        "-O3",
        "-DNDEBUG",
        "--expt-relaxed-constexpr",
        "-gencode=arch=compute_90a,code=sm_90a",
        "-shared",
        "-Xcompiler",
        "-fPIC",
        "-cudart",
        "static",
        f"-L{cuda / 'lib'}",
        f"-I{cutlass}",
        f'-DTRIPY_SOURCE_SHA256="{source_digest()}"',
        str(SOURCE),
        "-o",
        str(args.output),
    ]
    print(f"compiling {SOURCE.relative_to(ROOT)} (several minutes)", flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True)
    subprocess.run(["strip", "--strip-unneeded", str(args.output)], check=False)
    size = args.output.stat().st_size / 1e6
    print(f"built {args.output} ({size:.1f} MB) in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
