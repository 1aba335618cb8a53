"""One fold of the audit's cross-fitting with a preset (audit.model): the training split less the fold, which
that fold's run trains on, and the held-out rows it then scores.

Inputs: train (the split), labels. Outputs: train (the rows trained on), held (the held-out rows, each text
once). Params: folds (audit.folds), fold (1-based), seed (as TF-IDF's folds: the same rows held out together)."""

from focalcls.core import cli
from focalcls.core.atomic import read_json
from focalcls.core.spreadsheets import read_table, write_xlsx
from focalcls.evaluate.label_audit import fold_split


def main(rule) -> None:
    params = rule.params
    trained, held = fold_split(
        read_table(rule.input.train), read_json(rule.input.labels), params.folds, params.seed, params.fold
    )
    write_xlsx(rule.output.train, trained)
    write_xlsx(rule.output.held, held)


if __name__ == "__main__":
    cli.run_rule(main)
