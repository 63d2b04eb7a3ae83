"""Typed dataclass configs as command lines: every field becomes a `--flag` with its type, default and help text.

Help text comes from `field(metadata={"help": ...})`; tuples take several values (`--aspect-ratio 0.75 1.5`), bools
take `--flag` / `--no-flag`, `X | None` fields accept the word `none`.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

ConfigT = TypeVar("ConfigT")
NONE_WORD = "none"


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """(inner type, allows None) for `X | None` / Optional[X]; (tp, False) otherwise."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"config fields support `X | None` unions only, got {tp}")
        return args[0], True
    return tp, False


def _scalar_parser(tp: Any, optional: bool):
    """argparse `type=` callable for a scalar field type (int, float, str, Path, Literal)."""
    if typing.get_origin(tp) is typing.Literal:
        choices = typing.get_args(tp)
        base = type(choices[0])
    else:
        choices, base = None, tp
    if base not in (int, float, str, Path):
        raise TypeError(f"unsupported config field type {tp}")

    def parse(text: str):
        if optional and text.lower() == NONE_WORD:
            return None
        value = base(text)
        if choices is not None and value not in choices:
            raise argparse.ArgumentTypeError(f"expected one of {list(choices)}, got {text!r}")
        return value

    parse.__name__ = getattr(base, "__name__", str(base))
    return parse


def add_config_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one option per dataclass field of `cls` to `parser`."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        flag = "--" + field.name.replace("_", "-")
        tp, optional = _unwrap_optional(hints[field.name])
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        help_text = field.metadata.get("help", "")
        help_text = f"{help_text} (default: {default})" if help_text else f"default: {default}"
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        elif typing.get_origin(tp) is tuple:
            item_types = [a for a in typing.get_args(tp) if a is not Ellipsis]
            nargs = "+" if Ellipsis in typing.get_args(tp) else len(item_types)
            parser.add_argument(
                flag, type=_scalar_parser(item_types[0], False), nargs=nargs, default=default, help=help_text
            )
        else:
            parser.add_argument(flag, type=_scalar_parser(tp, optional), default=default, help=help_text)


def config_from_args(cls: type[ConfigT], args: argparse.Namespace) -> ConfigT:
    """Instantiate `cls` from parsed arguments (tuples converted back from lists)."""
    values = {}
    for field in dataclasses.fields(cls):
        value = getattr(args, field.name)
        values[field.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def parse_config(cls: type[ConfigT], argv: Sequence[str] | None, description: str) -> ConfigT:
    """Parse a command line into a `cls` instance (argv None = sys.argv[1:])."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, cls)
    return config_from_args(cls, parser.parse_args(argv))


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain JSON-friendly values (Paths as strings), for checkpoints and logs."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return {key: plain(value) for key, value in dataclasses.asdict(config).items()}
