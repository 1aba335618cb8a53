"""A config file read as text before its values are used: duplicate keys and alias bombs are refused with
the file and the lines, fast, without expanding an alias."""

import time

import pytest

from focalcls.config.loading import load_config
from focalcls.config.raw_yaml import MAX_VALUES, check_config_file
from focalcls.core.errors import UserError


def alias_bomb(levels: int) -> str:
    """A small YAML file whose aliases stand for 10**levels values, under demo (once free-form)."""
    lines = ["demo:", "  data:", "    l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_two_blocks_of_one_section_are_refused_naming_the_key_and_both_lines(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("train:\n  lr: 0.001\n  epochs: 3\npresets: {ce: {loss: ce}}\ntrain:\n  gpus: 0\n")
    with pytest.raises(UserError, match=r"my.yaml: key 'train' appears twice in one mapping, on lines 1 and 5"):
        check_config_file(path)
    with pytest.raises(UserError, match="key 'train' appears twice"):
        load_config(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ("presets:\n  ce: {loss: ce, loss: focal}\n", "key 'loss' appears twice in one mapping, on lines 2 and 2"),
        ('{"train": {"lr": 0.1}, "train": {"gpus": 0}}', "key 'train' appears twice in one object"),  # JSON
        ("demo: &d\n  data: [*d]\n", "line 1: an alias refers to the value that holds it"),
    ],
)
def test_a_duplicate_key_deep_inside_in_json_or_an_endless_alias_is_refused(tmp_path, text, message):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=f"my.yaml: {message}"):
        check_config_file(path)


def test_anchors_aliases_and_merge_keys_used_as_meant_pass(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text(
        "base: &base {loss: focal, form: sigmoid, alpha: 0.25}\n"
        "presets:\n  mild: {<<: *base, gamma: 1.0}\n  severe: {<<: *base, gamma: 3.0, alpha: 0.1}\n"
    )
    check_config_file(path)


def test_an_alias_bomb_stops_fast_with_a_clear_message(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(9))  # a billion values in 624 bytes
    start = time.perf_counter()
    with pytest.raises(UserError, match=f"bomb.yaml: line .*: its aliases .* expand to over {MAX_VALUES:,} values"):
        load_config(path)
    assert time.perf_counter() - start < 1


def test_demo_sections_take_only_their_own_keys(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("demo:\n  data:\n    anything: [1, 2, 3]\n")
    with pytest.raises(UserError, match="unknown config key 'demo.data.anything'"):
        load_config(path)
