"""Record one stage of the search (the tune_gamma and tune_alpha checkpoints' script): every candidate's
mean validation figure over the seeds, and the value chosen. Params: parameter, values, runs (the run of each
value: a twin preset's or the search's own), fixed, seeds, metric; input.metrics lists each value's seeds in turn."""

import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json, write_json
from focalcls.train.search import stage_result


def main(rule) -> None:
    params = rule.params
    metrics = [read_json(path) for path in rule.input.metrics]
    result = stage_result(
        params.parameter, params.values, metrics, params.seeds, params.metric, params.fixed, runs=params.runs
    )
    write_json(Path(rule.output.stage), result)
    print(f"{params.parameter}: {result['chosen']} (best mean validation {params.metric})", file=sys.stderr)


if __name__ == "__main__":
    cli.run_rule(main)
