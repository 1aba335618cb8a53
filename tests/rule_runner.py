"""Runs one `script:` rule's script as Snakemake does, in a process of its own, with a `snakemake` object
built from a JSON file: python tests/rule_runner.py SCRIPT SPEC.json (tests call it via helpers.run_rule_script)."""

import json
import runpy
import sys

from snakemake.iocontainers import Namedlist


class Rule:
    """The `snakemake` object a script: rule's script gets, with Snakemake's own named lists: rule.input.rows
    and rule.input[0] both work."""

    def __init__(self, spec: dict):
        for field in ("input", "output", "log", "wildcards"):
            given = spec.get(field) or {}
            # A list is unnamed, as `log: "x.log"` is: rule.log[0].
            setattr(self, field, Namedlist(given) if isinstance(given, list) else files(given))
        self.params = Namedlist(fromdict=spec.get("params") or {})
        self.threads = spec.get("threads", 1)


def files(given: dict) -> Namedlist:
    """Named files as Snakemake holds them: one flat list of paths, a name standing for one path or, where a
    list was given, for its slice (rule.input.metrics lists them; iterating rule.input gives every path)."""
    found = Namedlist()
    for name, value in given.items():
        start = len(found)
        if isinstance(value, list):
            found.extend(value)
            found._set_name(name, start, end=len(found))
        else:
            found.append(value)
            found._set_name(name, start)
    return found


if __name__ == "__main__":
    script, spec = sys.argv[1], json.loads(open(sys.argv[2], encoding="utf-8").read())
    runpy.run_path(script, init_globals={"snakemake": Rule(spec)}, run_name="__main__")
