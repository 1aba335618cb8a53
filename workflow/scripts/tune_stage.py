"""Record one stage of the search (the tune_gamma and tune_alpha checkpoints' script): every candidate's
mean validation figure over its runs, and the value chosen. Params: parameter, points ([{value, run, metrics:
[the metrics.json of each of its runs]}], by name: the same paths as input.metrics), fixed, metric."""

import sys
from pathlib import Path

from focalcls.core import cli
from focalcls.core.atomic import read_json, write_json
from focalcls.train.search import stage_result


def main(rule) -> None:
    params = rule.params
    points = [{**point, "metrics": [read_json(path) for path in point["metrics"]]} for point in params.points]
    result = stage_result(params.parameter, points, params.metric, params.fixed)
    write_json(Path(rule.output.stage), result)
    print(f"{params.parameter}: {result['chosen']} (best mean validation {params.metric})", file=sys.stderr)


if __name__ == "__main__":
    cli.run_rule(main)
