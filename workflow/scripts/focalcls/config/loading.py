"""A config made complete: unknown keys named with the closest valid one, every value checked against
the schema (focalcls/config/schema.yaml, package data), and every default filled in from it. The schema is
the only place a default lives: code downstream indexes the filled config and never supplies a fallback
of its own."""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path

import yaml

from focalcls.config.checks import check_keys, check_values
from focalcls.config.raw_yaml import check_config_file
from focalcls.core.errors import UserError

SCHEMA = Path(__file__).with_name("schema.yaml")  # package data: every install carries it


def load_schema(path: str | Path = SCHEMA) -> dict:
    if not Path(path).is_file():
        raise UserError(f"{path}: the config schema is not there; pass the path of a schema file as schema_path")
    return copy.deepcopy(_parsed_schema(str(Path(path).resolve())))


@functools.cache
def _parsed_schema(path: str) -> dict:
    """Parsed once a process, with libyaml where PyYAML has it (8 times faster): a Snakefile with a search
    completes every point's preset (Snakemake's validate reads the file again itself)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)


def complete(config: Mapping, schema_path: str | Path = SCHEMA) -> dict:
    """A copy of `config` checked (one line naming the key on the first fault) with the schema's defaults filled
    in at every level, preset fields included. Snakemake's validate fills the defaults, as in every workflow."""
    from snakemake.utils import validate

    schema = load_schema(schema_path)
    filled = copy.deepcopy(dict(config))
    check_keys(filled, schema)
    check_values(filled, schema)  # a one-line error; validate below would print the whole schema
    filled = whole_numbers(filled, schema)
    validate(filled, schema=str(schema_path), set_default=True)
    return filled


def whole_numbers(value, schema: Mapping, where: str = ""):
    """NaN and infinity pass every bound a schema sets (each comparison with NaN is false), so they are
    refused here by name; an integer key written as 8.0 (which the schema accepts) becomes 8, as the
    code that takes it as a count expects."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserError(f"config key {where[:-1]} is {value}; give a finite number (config/README.md)")
        types = [t for option in (schema, *schema.get("anyOf", [])) for t in _types(option)]  # gpus: 1 or auto
        return int(value) if "integer" in types and "number" not in types else value
    if isinstance(value, Mapping):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {
            k: whole_numbers(v, properties.get(k, extra if isinstance(extra, Mapping) else {}), f"{where}{k}.")
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [whole_numbers(v, schema.get("items", {}), f"{where}{i}.") for i, v in enumerate(value)]
    return value


def _types(schema: Mapping) -> list[str]:
    types = schema.get("type", [])
    return [types] if isinstance(types, str) else list(types)


def load_config(path: str | Path, schema_path: str | Path = SCHEMA) -> dict:
    """A config file as the workflow sees it (for bench scripts and a user's own code)."""
    if not Path(path).is_file():
        raise UserError(f"{path}: config file not found")
    check_config_file(path)
    config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(config, Mapping):
        kind = type(config).__name__
        raise UserError(f"{path}: a config is a mapping of sections (data:, model:, ...), not a {kind}")
    return complete(config, schema_path)


def complete_preset(preset: Mapping, schema_path: str | Path = SCHEMA) -> dict:
    """One preset with the schema's defaults filled in, e.g. {"loss": "ce"} for a script of your own."""
    try:
        key = json.dumps(preset, sort_keys=True)
    except TypeError:  # a value JSON cannot hold: checked as it is, each time
        return complete({"presets": {"p": dict(preset)}}, schema_path)["presets"]["p"]
    return copy.deepcopy(_completed_preset(key, str(schema_path)))


@functools.lru_cache(maxsize=256)
def _completed_preset(preset: str, schema_path: str) -> dict:
    """complete_preset of a preset given as JSON, once a process: the search's points are completed over and
    over while the Snakefile is read (each about 0.1 s, most of it validation)."""
    return complete({"presets": {"p": json.loads(preset)}}, schema_path)["presets"]["p"]
