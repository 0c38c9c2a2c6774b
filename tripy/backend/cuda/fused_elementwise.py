"""CUDA kernels of fused elementwise chains: one generated CuPy kernel per program and input types.

:class:`~tripy.trace.primitives.FusedElementwise` runs as a ``cupy.ElementwiseKernel`` and
:class:`~tripy.trace.primitives.FusedReduce` as a ``cupy.ReductionKernel`` whose map is the chain, both from
the source :mod:`.elementwise_codegen` writes. Inputs broadcast to the result as the primitives define
(right-aligned, size-1 dimensions); float16 arrays are passed as their bits (``uint16`` views, no copy).
Kernels are compiled on first use (the warm-up run before a CUDA graph is captured) and cached, so a
captured graph holds plain kernel launches.

Elementwise results equal the unfused kernels' (see :mod:`.elementwise_codegen`). A fused sum adds in
float32 as the unfused one does, but in CuPy's reduction order rather than CUB's (which the unfused
``cupy.sum`` of a contiguous array uses), so sums differ from the unfused ones by float32 rounding
(relative to the sum of magnitudes: a few ulps); maxima and minima are exact. A reduction kernel always
has two inputs or more (a single one is passed twice): CuPy 14 runs a one-input reduction of a contiguous
array through its CUB block reduction, whose source does not compile with the CCCL it ships (C++11 mode).
"""

from __future__ import annotations

import warnings
from typing import Any

import cupy
import numpy as np

from tripy import dtypes
from tripy.backend.base import Kernel
from tripy.backend.cuda.elementwise_codegen import (
    OUT,
    ReductionSource,
    Source,
    elementwise_source,
    reduction_source,
    value_types,
)
from tripy.backend.cuda.storage import logical_dtype
from tripy.trace.primitives import FusedElementwise, FusedReduce, Primitive, TensorType


def _types(arrays: tuple[Any, ...]) -> tuple[TensorType, ...]:
    return tuple(TensorType(tuple(a.shape), logical_dtype(a)) for a in arrays)


def _as_storage(array: Any) -> Any:
    return array.view(np.uint16) if array.dtype == np.float16 else array


def _from_storage(array: Any, dtype: dtypes.DataType) -> Any:
    return array.view(np.float16) if dtype is dtypes.float16 else array


class FusedKernels:
    """The kernels of the fused primitives, with their caches (by program and input dtypes, then by source).

    ``fallback`` runs a fused primitive's steps unfused: it takes over, with a warning, for a program whose
    generated kernel fails to compile or to launch the first time (outside a CUDA graph capture), so that a
    compiler's quirk costs speed, not the compiled function.
    """

    def __init__(self, fallback: Kernel | None = None) -> None:
        self._fallback = fallback
        self._failed: set[tuple] = set()
        self._elementwise: dict[tuple, tuple[Any, Source]] = {}
        self._reductions: dict[tuple, tuple[Any, ReductionSource, tuple[int, ...]]] = {}
        self._by_source: dict[str, Any] = {}
        #: Kernels compiled (distinct sources), launches, and programs that fell back to their steps.
        self.stats = {"compiled": 0, "elementwise": 0, "reductions": 0, "failed": 0}

    def table(self) -> dict[type[Primitive], Kernel]:
        """The kernels, by the primitive class they run."""
        return {FusedElementwise: self.elementwise, FusedReduce: self.reduction}

    def _compiled(self, name: str, make: Any) -> Any:
        kernel = self._by_source.get(name)
        if kernel is None:
            kernel = self._by_source[name] = make()
            self.stats["compiled"] += 1
        return kernel

    def _first(self, key: tuple, prim: Any, arrays: tuple[Any, ...], launch: Any) -> Any:
        """``launch()``, the first launch of a program's kernel; on failure, the steps (and from then on)."""
        try:
            return launch()
        except Exception as error:
            if self._fallback is None or cupy.cuda.get_current_stream().is_capturing():
                raise
            self._failed.add(key)
            self.stats["failed"] += 1
            lines = [line for line in str(error).splitlines() if "error" in line.lower()][:2]
            warnings.warn(
                f"tripy: the generated kernel of a fused {type(prim).__name__} failed "
                f"({type(error).__name__}: {' | '.join(lines) or str(error)[:300]}); its steps run unfused.",
                RuntimeWarning,
                stacklevel=2,
            )
            return self._fallback(prim, *arrays)

    def elementwise(self, prim: FusedElementwise, *arrays: Any) -> Any:
        """The kernel of :class:`FusedElementwise`."""
        key = (prim.program, tuple(logical_dtype(a) for a in arrays))
        if key in self._failed:
            return self._fallback(prim, *arrays)  # type: ignore[misc]
        entry = self._elementwise.get(key)
        if entry is None:

            def first() -> Any:
                source = elementwise_source(prim.program, _types(arrays))
                kernel = self._compiled(
                    source.name,
                    lambda: cupy.ElementwiseKernel(
                        source.in_params,
                        source.out_param,
                        f"{OUT} = {source.call};",
                        source.name,
                        preamble=source.preamble,
                    ),
                )
                result = self._launch_elementwise(prim, arrays, kernel, source)
                self._elementwise[key] = (kernel, source)
                return result

            return self._first(key, prim, arrays, first)
        return self._launch_elementwise(prim, arrays, *entry)

    def _launch_elementwise(self, prim: FusedElementwise, arrays: tuple[Any, ...], kernel: Any, source: Source) -> Any:
        out = cupy.empty(prim.shape, dtype=_storage_numpy(source.out_dtype))
        kernel(*(_as_storage(a) for a in arrays), out)
        self.stats["elementwise"] += 1
        return _from_storage(out, prim.dtype)

    def reduction(self, prim: FusedReduce, *arrays: Any) -> Any:
        """The kernel of :class:`FusedReduce`."""
        key = (prim.program, tuple(logical_dtype(a) for a in arrays), tuple(tuple(a.shape) for a in arrays))
        if key in self._failed:
            return self._fallback(prim, *arrays)  # type: ignore[misc]
        entry = self._reductions.get(key)
        if entry is None:

            def first() -> Any:
                types = _types(arrays)
                generated = reduction_source(prim.program, types)
                mapped = prim.program[-1][1][0]
                shape = tuple(value_types(prim.program, types)[mapped].shape)  # the reduction's input
                source = generated.source
                in_params = source.in_params
                if len(arrays) == 1:  # a second parameter keeps CuPy off its CUB block reduction (see above)
                    in_params += f", {in_params.split()[0]} tripy_unused"
                kernel = self._compiled(
                    source.name,
                    lambda: cupy.ReductionKernel(
                        in_params,
                        source.out_param,
                        source.call,
                        generated.reduce_expr,
                        generated.post_map,
                        generated.identity,
                        source.name,
                        reduce_type="float",  # a C type
                        preamble=source.preamble,
                    ),
                )
                result = self._launch_reduction(prim, arrays, kernel, generated, shape)
                self._reductions[key] = (kernel, generated, shape)
                return result

            return self._first(key, prim, arrays, first)
        return self._launch_reduction(prim, arrays, *entry)

    def _launch_reduction(
        self, prim: FusedReduce, arrays: tuple[Any, ...], kernel: Any, generated: ReductionSource, shape: tuple
    ) -> Any:
        args = [cupy.broadcast_to(_as_storage(a), shape) for a in arrays]
        if len(args) == 1:
            args.append(args[0])
        out = kernel(*args, axis=generated.axes, keepdims=generated.keepdim)
        self.stats["reductions"] += 1
        return _from_storage(out, prim.dtype)


def _storage_numpy(dtype: dtypes.DataType) -> Any:
    return np.uint16 if dtype is dtypes.float16 else dtype.numpy
