"""``tp.compile``: trace a function and build a TensorRT engine for it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tripy.compiler.executable import Executable
from tripy.compiler.graph import Argument, Graph, trace_function
from tripy.compiler.input_info import DimensionInputInfo, InputInfo
from tripy.compiler.symbolic import resolve
from tripy.errors import raise_error
from tripy.export import public


def _target(func: Callable) -> Callable:
    """What is called: a module's ``forward``, else the function itself."""
    return func.forward if hasattr(func, "forward") and not inspect.isfunction(func) else func


def _parameter_names(func: Callable) -> list[str] | None:
    try:
        params = inspect.signature(_target(func)).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


def _check_signature(func: Callable, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    target = _target(func)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise_error(
            f"tp.compile: `args`/`kwargs` do not fit the signature of {getattr(target, '__name__', 'func')}"
            f"{signature}: {exc}."
        )


def _arguments(func: Callable, args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[Argument]:
    names = _parameter_names(func) or []
    arguments = []
    for i, info in enumerate(args):
        name = names[i] if i < len(names) else f"args[{i}]"
        if not isinstance(info, InputInfo):
            raise_error(
                f"tp.compile: `args[{i}]` (for `{name}`) must be a tp.InputInfo or tp.DimensionInputInfo, not "
                f"{type(info).__name__}. "
                "Values that do not change between calls can be used by the function directly."
            )
        arguments.append(Argument(name, False, info))
    for name, info in kwargs.items():
        if not isinstance(info, InputInfo):
            raise_error(f"tp.compile: `kwargs[{name!r}]` must be a tp.InputInfo, not {type(info).__name__}.")
        arguments.append(Argument(name, True, info))
    _check_named_dimensions(arguments)
    return arguments


def _check_named_dimensions(arguments: list[Argument]) -> None:
    """Dimensions of one :class:`tripy.NamedDimension` name are one dimension: they need one range."""
    seen: dict[str, tuple[tuple[int, int, int], str]] = {}
    for arg in arguments:
        for axis, name in sorted(arg.info.dimension_names.items()):
            rng = arg.info.ranges[axis]
            where = f"dimension {axis} of `{arg.name}`"
            if name in seen and seen[name][0] != rng:
                raise_error(
                    f"tp.compile: the dimension named {name!r} has the range (min, opt, max) {seen[name][0]} at "
                    f"{seen[name][1]} but {rng} at {where}: dimensions of one name must have one range."
                )
            seen.setdefault(name, (rng, where))


def _aliases(graph: Graph, donate: Sequence[str | int]) -> list[tuple[int, int]]:
    """For each donated argument (by name or position), the first output not taken yet with its dtype and shape."""
    names = {a.name: i for i, a in enumerate(graph.args)}
    positional = [a.name for a in graph.args if not a.keyword]
    opt = [tuple(a.info.opt) for a in graph.args]
    dims = graph.symbol_values(opt)

    def shape_of(value: int) -> tuple[int, ...]:
        if value < len(graph.args):
            return opt[value]
        if value < graph.first_op_value:
            return tuple(graph.constants[value - len(graph.args)].array.shape)
        return tuple(resolve(graph.ops[value - graph.first_op_value].shape, dims))

    aliases: list[tuple[int, int]] = []
    taken: set[int] = set()
    for name in donate:
        if isinstance(name, int) and not isinstance(name, bool):
            if not 0 <= name < len(positional):
                raise_error(
                    f"tp.compile: `donate` names argument {name}, but there are {len(positional)} positional ones."
                )
            name = positional[name]
        if not isinstance(name, str) or name not in names:
            raise_error(f"tp.compile: `donate` names {name!r}, which is not an argument ({', '.join(names)}).")
        arg = names[name]
        if isinstance(graph.args[arg].info, DimensionInputInfo):
            raise_error(f"tp.compile: `donate` names {name!r}, a size (tp.DimensionInputInfo), which has no memory.")
        if arg in (a for _, a in aliases):
            raise_error(f"tp.compile: `donate` names {name!r} twice.")
        dtype = graph.args[arg].info.dtype
        position = next(
            (
                p
                for p, v in enumerate(graph.outputs)
                if p not in taken and graph.dtype_of(v) == dtype and shape_of(v) == opt[arg]
            ),
            None,
        )
        if position is None:
            raise_error(
                f"tp.compile: the donated argument {name!r} ({dtype}, shape {opt[arg]}) has no output of its dtype "
                "and shape to take its memory."
            )
        taken.add(position)
        aliases.append((position, arg))
    return aliases


@public
def compile(
    func: Callable,
    args: Sequence[InputInfo] | None = None,
    kwargs: Mapping[str, InputInfo] | None = None,
    donate: Sequence[str | int] = (),
) -> Executable:
    """Compile ``func`` (a function or a :class:`tripy.Module`) for inputs described by ``args`` and ``kwargs``.

    ``func`` is traced on placeholder tensors; where TensorRT is installed, the trace is lowered to a
    strongly typed TensorRT network (quantize/dequantize as TensorRT's Q/DQ layers, dynamic dimensions as
    an optimization profile) and built into an engine, which is cached on disk. The returned
    :class:`tripy.Executable` runs the engine where the GPU allows, and otherwise the same trace eagerly.

    Parameters and other tensors the function uses are captured as they are now: set a module's weights
    before compiling it. With dynamic dimensions the function is traced a few times, with other sizes.

    ``donate`` names arguments (or gives their positions) whose memory the call may reuse for an output
    of the same dtype and shape (the first such output not taken by another): a state carried from call
    to call, such as a static key/value cache updated with :func:`tripy.update_slice`. Where compiled
    functions replay CUDA graphs, that output *is* the argument's buffer: passing it back as the
    argument at the next call copies nothing, and an update of it is written in place. The tensor
    passed as a donated argument must not be read after the call. Elsewhere ``donate`` changes nothing.

    .. code-block:: python

        def add_one(x):
            return x + 1.0

        fast_add_one = tp.compile(add_one, args=[tp.InputInfo(((1, 2, 4), 3), tp.float32)])
        out = fast_add_one(tp.ones((2, 3)))
        assert out.tolist() == [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """
    if not callable(func):
        raise_error(f"tp.compile: `func` must be a function or a tp.Module, not {type(func).__name__}.")
    args = list(args or [])
    kwargs = dict(kwargs or {})
    _check_signature(func, args, kwargs)
    graph = trace_function(func, _arguments(func, args, kwargs))
    if isinstance(donate, (str, int)):
        donate = (donate,)
    graph.aliases = _aliases(graph, list(donate))
    return Executable.build(graph)
