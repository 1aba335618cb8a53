"""What evaluate writes for one set of predictions, with hostile label names."""

import numpy as np
import pandas as pd

from focalcls.evaluate.outputs import write_evaluation


def test_confusion_csv_never_starts_a_cell_with_a_formula(tmp_path):
    labels = ['=HYPERLINK("http://e.x","x")', "-1", "体育"]
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": labels})
    probs = np.eye(3)
    write_evaluation(
        tmp_path, {"val": frame, "test": frame}, {"val": probs, "test": probs}, labels, dict.fromkeys(labels, 5)
    )
    text = (tmp_path / "confusion.csv").read_text(encoding="utf-8")
    cells = [cell for line in text.splitlines() for cell in line.split(",")]
    assert not any(cell.lstrip('"').startswith(("=", "+", "@")) for cell in cells), text
    assert "-1" in cells  # a number is no formula and keeps its name
    matrix = pd.read_csv(tmp_path / "confusion.csv", index_col=0)
    assert np.array_equal(matrix.to_numpy(), np.eye(3, dtype=int))


def test_predict_refuses_a_file_that_already_has_prediction_columns():
    """They would be overwritten silently (a file predict wrote before, fed back in)."""
    import pytest

    from focalcls.core.errors import UserError
    from focalcls.deploy.prediction import predict_table

    frame = pd.DataFrame({"text": ["a"], "p_value": ["0.01"], "predicted_label": ["x"], "p_体育": [0.3]})
    with pytest.raises(UserError, match=r"new.xlsx: it already has the column\(s\) \['predicted_label', 'p_体育'\]"):
        predict_table(frame, "text", ["体育"], lambda texts: None, source="new.xlsx")


def test_a_hostile_pickle_is_refused_without_a_traceback(tmp_path):
    """model.allow_pickle: true reads tensors only; a pickle that would run code is a clear error."""
    import os
    import pickle

    import pytest

    from focalcls.core.errors import UserError
    from focalcls.train.model import PICKLED_WEIGHTS, saved_head

    class Hostile:
        def __reduce__(self):
            return (os.system, ("echo pwned > pwned.txt",))

    (tmp_path / PICKLED_WEIGHTS).write_bytes(pickle.dumps({"base_model.model.score.weight": Hostile()}))
    with pytest.raises(UserError, match="refused: the pickle holds more than tensors"):
        saved_head(tmp_path, "score")
    assert not (tmp_path / "pwned.txt").exists() and not os.path.exists("pwned.txt")
