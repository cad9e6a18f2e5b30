"""Dataclass configs <-> command-line flags, with each field's docstring as its help.

`--num-actors 2` sets `TrainConfig.num_actors`; learner fields are flags too
(`--learning-rate 1e-3` sets `TrainConfig.learner.learning_rate`). A flag is only
applied when given, so presets keep their values for everything else.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
import typing
from typing import Any


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (PEP 257 attribute docstrings)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body
    docs = {}
    for node, following in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[node.target.id] = following.value.value.strip()
    return docs


def add_dataclass_flags(parser: argparse.ArgumentParser, cls: type, *, prefix: str = "",
                        skip: tuple[str, ...] = ()) -> None:
    """One `--flag` per field of `cls` (nested dataclass fields are skipped)."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} fields")
    for field in dataclasses.fields(cls):
        if field.name in skip or dataclasses.is_dataclass(hints[field.name]):
            continue
        flag = "--" + field.name.rstrip("_").replace("_", "-")
        hint = hints[field.name]
        extra = {"nargs": "?", "const": True} if hint is bool else {}
        group.add_argument(flag, dest=prefix + field.name, default=argparse.SUPPRESS, metavar=_metavar(hint),
                           type=_parser_for(hint), help=docs.get(field.name, field.name), **extra)


def overrides(args: argparse.Namespace, prefix: str = "") -> dict[str, Any]:
    """The fields a user actually set on the command line (under `prefix`)."""
    return {key[len(prefix):]: value for key, value in vars(args).items() if key.startswith(prefix)}


def _parser_for(hint: Any):
    origin, inner = typing.get_origin(hint), [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(inner) == 1:
        base = _parser_for(inner[0])
        return lambda text: None if text.lower() in ("none", "null", "") else base(text)
    if origin is tuple:
        return lambda text: tuple(int(part) for part in text.split(",") if part)
    if hint is bool:
        return _parse_bool
    return hint


def _metavar(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        return "N,N,..."
    if hint is bool:
        return "true|false"
    return getattr(hint, "__name__", "VALUE").upper()


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
