"""Runs one `script:` rule's script as Snakemake does, in a process of its own, with a `snakemake` object
built from a JSON file: python tests/rule_runner.py SCRIPT SPEC.json (tests call it via helpers.run_rule_script)."""

import json
import runpy
import sys


class Named(list):
    """Snakemake's named lists in small: rule.input.rows and rule.input[0] both work."""

    def __init__(self, items):
        items = items if isinstance(items, dict) else dict(enumerate(items))
        super().__init__(items.values())
        for key, value in items.items():
            if isinstance(key, str):
                setattr(self, key, value)


class Rule:
    def __init__(self, spec: dict):
        for field in ("input", "output", "params", "log", "wildcards"):
            setattr(self, field, Named(spec.get(field) or {}))
        self.threads = spec.get("threads", 1)


if __name__ == "__main__":
    script, spec = sys.argv[1], json.loads(open(sys.argv[2], encoding="utf-8").read())
    runpy.run_path(script, init_globals={"snakemake": Rule(spec)}, run_name="__main__")
