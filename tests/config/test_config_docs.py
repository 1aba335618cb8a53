"""config/README.md and config/schema.yaml say the same: every key documented, every documented key real,
and every default written in the README equal to the schema's, the only place a default lives."""

from __future__ import annotations

import re

import yaml

from conftest import REPO
from focalcls.config.loading import SCHEMA as SCHEMA_FILE

ROW = re.compile(r"^\| ((?:`[^`]+`(?:, )?)+) \| (.*?) \| .* \|$", re.M)
SCALAR = re.compile(r"^(null|true|false|-?[\d.]+(?:e-?\d+)?|\[\]|\{\}|\[[\w, ]+\]|[\w-]+)$")


def schema_keys(schema: dict, prefix: str = "") -> dict[str, object]:
    """Every documented key and its default: nested sections by dotted name, preset fields as presets.<name>.x."""
    keys = {}
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if "properties" in sub and not path.startswith("demo."):
            keys.update(schema_keys(sub, f"{path}."))
        elif isinstance(sub.get("additionalProperties"), dict) and "properties" in sub["additionalProperties"]:
            keys.update(schema_keys(sub["additionalProperties"], f"{path}.<name>."))
        else:
            keys[path] = sub.get("default")
    return keys


def readme_rows() -> dict[str, str]:
    rows = {}
    for keys, default in ROW.findall((REPO / "config/README.md").read_text(encoding="utf-8")):
        for key in re.findall(r"`([^`]+)`", keys):
            rows[key] = default.strip()
    return rows


def as_schema_value(text: str):
    """A README default cell read as YAML when it is a plain value; None when it is words for a reader."""
    if not SCALAR.match(text):
        return None
    try:
        return float(text)  # YAML 1.1 reads 2e-4 as a string
    except ValueError:
        return yaml.safe_load(text)


SCHEMA = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def test_every_schema_key_is_documented_and_every_documented_key_exists():
    documented, real = set(readme_rows()), set(schema_keys(SCHEMA))
    # presets and demo sections are documented by their fields; the sections themselves have no row.
    real -= {"presets", "demo.data", "demo.model"} - documented
    assert real - documented == set(), "keys missing from config/README.md"
    assert documented - real - {"presets", "demo.data", "demo.model"} == set(), "README keys not in the schema"


def drifts(rows: dict[str, str], defaults: dict[str, object]) -> tuple[list[str], int]:
    """README defaults that differ from the schema's, and how many plain-valued defaults were compared."""
    found, compared = [], 0
    for key, cell in rows.items():
        written = as_schema_value(cell)
        if key not in defaults or (written is None and cell != "null"):
            continue  # words for a reader ("all attention and MLP projections"), not a value
        compared += 1
        if written != defaults[key]:
            found.append(f"{key}: README says {cell}, schema says {defaults[key]!r}")
    return found, compared


def test_readme_defaults_equal_the_schema_defaults():
    found, compared = drifts(readme_rows(), schema_keys(SCHEMA))
    assert found == []
    assert compared >= 40  # the plain defaults really were compared, not skipped


def test_a_default_changed_in_the_schema_alone_is_caught():
    changed = {**schema_keys(SCHEMA), "train.epochs": 7, "split.seed": 1}
    assert sorted(f.split(":")[0] for f in drifts(readme_rows(), changed)[0]) == ["split.seed", "train.epochs"]
