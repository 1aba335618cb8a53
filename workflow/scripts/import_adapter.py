"""An adapter trained elsewhere (evaluate.adapters) checked against the data's labels and copied to
results/presets/<name>/adapter with its label map, where the evaluate rule scores it as it scores a preset.

Inputs: files (the folder's), labels. Output: adapter. Params: entry (the folder, or {folder, labels}).
Wildcards: preset, the adapter's name."""

import sys
from pathlib import Path

from focalcls.config.outside_adapters import adapter_folder, import_adapter
from focalcls.core import cli
from focalcls.core.atomic import read_json


def main(rule) -> None:
    name = rule.wildcards.preset
    labels = import_adapter(name, rule.params.entry, read_json(rule.input.labels), Path(rule.output.adapter))
    print(f"imported {adapter_folder(rule.params.entry)} as {name}; its outputs: {labels}", file=sys.stderr)


if __name__ == "__main__":
    cli.run_rule(main)
