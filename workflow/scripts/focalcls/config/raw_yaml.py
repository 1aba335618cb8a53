"""A config file read as text, before its values are used: YAML keeps only the last of two equal keys (a
second `train:` block silently drops the first), and aliases (`*name`) can make a few hundred bytes stand
for billions of values. Both are refused here, on the file's node graph, which holds each aliased value
once: no check walks an expanded alias tree."""

from __future__ import annotations

import json
import os

import yaml

from focalcls.core.errors import UserError

# Values a config file may stand for once its aliases are expanded: a real config has hundreds (a label
# list or a per-class alpha list some thousands); an alias bomb has billions, which every later step would
# walk one by one.
MAX_VALUES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"  # `<<: *base`, whose keys a mapping may override on purpose


def check_config_file(path: str | os.PathLike) -> None:
    """Refuse duplicate keys and alias bombs in the config file at `path`, naming the file and the lines."""
    text = open(path, encoding="utf-8").read()
    try:
        json.loads(text, object_pairs_hook=lambda pairs: _refuse_duplicate_pairs(pairs, path))
        return  # a JSON config, which Snakemake reads first as JSON: it has no aliases
    except ValueError:
        pass  # not JSON: YAML
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({e})") from None
    if root is not None:
        _count_values(root, {}, path)


def _refuse_duplicate_pairs(pairs: list[tuple], path: str | os.PathLike) -> dict:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise UserError(f"{path}: key {twice[0]!r} appears twice in one object; JSON keeps only the last: merge them")
    return dict(pairs)


def _count_values(node: yaml.Node, counted: dict[int, int | None], path: str | os.PathLike) -> int:
    """The values `node` stands for with every alias expanded, each node counted once (`counted` by id)."""
    if id(node) in counted:
        if counted[id(node)] is None:  # an alias inside its own anchor: an endless value
            raise UserError(f"{path}: line {node.start_mark.line + 1}: an alias refers to the value that holds it")
        return counted[id(node)]
    counted[id(node)] = None
    if isinstance(node, yaml.MappingNode):
        _refuse_duplicate_keys(node, path)
        children = [part for pair in node.value for part in pair]
    else:
        children = node.value if isinstance(node, yaml.SequenceNode) else []
    total = 1 + sum(_count_values(child, counted, path) for child in children)
    if total > MAX_VALUES:
        raise UserError(
            f"{path}: line {node.start_mark.line + 1}: its aliases (*name) expand to over {MAX_VALUES:,} values, "
            "far more than any config needs; write the values out, or use each alias once"
        )
    counted[id(node)] = total
    return total


def _refuse_duplicate_keys(node: yaml.MappingNode, path: str | os.PathLike) -> None:
    lines: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == MERGE_TAG:
            continue
        line = key.start_mark.line + 1
        if (key.tag, key.value) in lines:
            raise UserError(
                f"{path}: key {key.value!r} appears twice in one mapping, on lines {lines[key.tag, key.value]} and "
                f"{line}; YAML keeps only the last, so everything under the first is lost: merge the two into one"
            )
        lines[key.tag, key.value] = line
