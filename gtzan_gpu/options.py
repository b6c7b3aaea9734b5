"""Options declared once, on the config dataclasses, and read by everything else.

A config field made with :func:`option` carries its command-line flag, help text, allowed values and range.
From that one declaration:

- the dataclass validates itself (``check_options`` in ``__post_init__``), naming the option in a one-line
  :class:`GtzanError`, whether the value came from the command line, a grid TOML or a checkpoint;
- the command line's arguments are generated (``add_option_arguments``) and copied back
  (``given_options``), so a new option touches one place;
- a grid's allowed keys are the same flat names (``option_names``).

Nested config dataclasses (``TrainConfig.features``) are flattened: every option has one flat name
(``image_size``), unique across the tree.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any, Iterator

from gtzan_gpu.errors import GtzanError

_MISSING = dataclasses.MISSING


def option(default: Any = _MISSING, *, help: str = "", choices: tuple | None = None, minimum: float | None = None,
           maximum: float | None = None, above: float | None = None, flag: str | None = None,
           negate: bool = False, cli: bool = True, resumable: bool = False, kind: type | None = None,
           default_factory: Any = _MISSING) -> Any:
    """A dataclass field with the metadata the CLI and the validation read.

    Args:
        help: the ``--help`` text.
        choices: allowed values, or a function returning them (read at each check: a registry's names).
        minimum / maximum: inclusive bounds; ``above``: exclusive lower bound. Floats must also be finite.
        flag: the command-line flag (default ``--field-name``).
        negate: a boolean that defaults to True, switched off by ``flag`` (``--no-normalize``).
        cli: False for fields the command line does not set.
        resumable: may change when a run is resumed (more epochs, another device); others may not.
        kind: the value's type when the annotation does not say it plainly (``int`` for ``int | None``).
    """
    metadata = {"help": help, "choices": choices, "minimum": minimum, "maximum": maximum, "above": above,
                "flag": flag, "negate": negate, "cli": cli, "resumable": resumable, "kind": kind}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def choices_of(field: dataclasses.Field) -> tuple | None:
    """A field's allowed values; ``choices`` may be a function, read when asked (a registry that plugins add to)."""
    choices = field.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def flag_of(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def _kind(field: dataclasses.Field) -> type | None:
    if field.metadata.get("kind"):
        return field.metadata["kind"]
    annotation = str(field.type)
    for name, kind in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if annotation.split(" |")[0].strip() == name:
            return kind
    return None


def check_value(field: dataclasses.Field, value: Any) -> Any:
    """``value`` converted to the field's type and checked against its metadata; raises GtzanError naming the flag."""
    name = flag_of(field)
    if value is None:
        if field.default is None:
            return None
        raise GtzanError(f"{name} needs a value")
    kind = _kind(field)
    if kind is bool:
        if not isinstance(value, bool):
            raise GtzanError(f"{name} must be true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise GtzanError(f"{name} must be a whole number, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise GtzanError(f"{name} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise GtzanError(f"{name} must be a finite number, got {value}")
    elif kind is str and not isinstance(value, str):
        raise GtzanError(f"{name} must be a string, got {value!r}")
    meta = field.metadata
    choices = choices_of(field)
    if choices is not None and value not in choices:
        raise GtzanError(f"unknown {name} {value!r} (choose from {', '.join(map(str, choices))})")
    if meta.get("minimum") is not None and value < meta["minimum"]:
        raise GtzanError(f"{name} must be >= {meta['minimum']:g}, got {value:g}")
    if meta.get("maximum") is not None and value > meta["maximum"]:
        raise GtzanError(f"{name} must be <= {meta['maximum']:g}, got {value:g}")
    if meta.get("above") is not None and not value > meta["above"]:
        raise GtzanError(f"{name} must be > {meta['above']:g}, got {value:g}")
    return value


def check_options(config: Any) -> None:
    """Validate (and normalise, e.g. int -> float) every option field of a dataclass instance in place."""
    for field in dataclasses.fields(config):
        if "help" in field.metadata:
            object.__setattr__(config, field.name, check_value(field, getattr(config, field.name)))


def option_fields(config_class: type, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dataclasses.Field]]:
    """(path, field) of every option in ``config_class`` and the config dataclasses nested in it.

    ``path`` is the attribute path, e.g. ``("features", "image_size")``.
    """
    for field in dataclasses.fields(config_class):
        nested = field.metadata.get("nested")
        if nested is not None:
            yield from option_fields(nested, prefix + (field.name,))
        elif "help" in field.metadata:
            yield prefix + (field.name,), field


def nested(config_class: type) -> Any:
    """A field holding a nested config dataclass (its options are flattened into the parent's)."""
    return dataclasses.field(default_factory=config_class, metadata={"nested": config_class})


def flat_name(path: tuple[str, ...], field: dataclasses.Field) -> str:
    """The option's flat name, as a grid TOML key: the flag without dashes (``--model`` -> ``model``)."""
    return flag_of(field).lstrip("-").replace("-", "_") if field.metadata.get("flag") and not \
        field.metadata.get("negate") else path[-1]


def option_names(config_class: type) -> dict[str, tuple[tuple[str, ...], dataclasses.Field]]:
    """flat name -> (path, field) for every option of ``config_class``."""
    names: dict[str, tuple[tuple[str, ...], dataclasses.Field]] = {}
    for path, field in option_fields(config_class):
        name = flat_name(path, field)
        if name in names:
            raise TypeError(f"option name {name!r} is declared twice in {config_class.__name__}")
        names[name] = (path, field)
    return names


def add_option_arguments(parser: argparse.ArgumentParser, config_class: type,
                         defaults: dict[str, str] | None = None) -> None:
    """One argparse argument per CLI option of ``config_class``. Every argument defaults to None, so
    :func:`given_options` can tell what the user set; the help shows the dataclass default (or
    ``defaults[name]``, a description of a default computed later, e.g. per model)."""
    defaults = defaults or {}
    for name, (path, field) in option_names(config_class).items():
        meta = field.metadata
        if not meta.get("cli", True):
            continue
        shown = defaults.get(name)
        if shown is None and field.default is not _MISSING and field.default is not None:
            shown = field.default
        help_text = meta["help"] + (f" (default: {shown})" if shown is not None and _kind(field) is not bool else "")
        kind = _kind(field)
        if kind is bool:
            parser.add_argument(flag_of(field), dest=name, action="store_const", const=not meta.get("negate"),
                                default=None, help=help_text)
        else:
            parser.add_argument(flag_of(field), dest=name, type=kind or str, choices=choices_of(field),
                                default=None, help=help_text,
                                metavar=None if choices_of(field) else name.upper())


def given_options(args: argparse.Namespace, config_class: type) -> dict[str, Any]:
    """flat name -> value of every option the user set on the command line."""
    return {name: getattr(args, name) for name in option_names(config_class)
            if getattr(args, name, None) is not None}


def nest(config_class: type, flat: dict[str, Any], source: str = "") -> dict[str, Any]:
    """Flat option values -> the nested keyword dict ``config_class.from_dict`` takes; unknown names are an error."""
    names = option_names(config_class)
    unknown = sorted(set(flat) - set(names))
    if unknown:
        where = f"{source}: " if source else ""
        raise GtzanError(f"{where}unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})")
    values: dict[str, Any] = {}
    for name, value in flat.items():
        path, _ = names[name]
        target = values
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return values


def flatten(config: Any) -> dict[str, Any]:
    """A config instance -> flat name -> value."""
    flat = {}
    for name, (path, _) in option_names(type(config)).items():
        value = config
        for part in path:
            value = getattr(value, part)
        flat[name] = value
    return flat
