"""Report figures with the user's label names drawn as they are."""

import matplotlib.pyplot as plt
import pandas as pd

from focalcls import plots


def test_labels_that_look_like_mathtext_are_drawn_as_plain_text():
    """'$_$' crashed matplotlib's mathtext parser, after every preset had trained."""
    names = ["$_$", "a^b$", "体育"]
    matrix = pd.DataFrame([[3, 0, 0], [0, 2, 1], [0, 0, 4]], index=pd.Index(names, name="true"), columns=names)
    assert plots.confusion_matrix(matrix, "ce $x_1$")  # a base64 PNG
    assert plt.rcParams["text.parse_math"] is False


def test_the_search_path_draws_one_panel_per_stage_with_or_without_seeds():
    import base64

    from focalcls.plots import tune_path

    point = {"value": 1.0, "mean": 0.5, "sd": 0.02, "seeds": [0.48, 0.52]}
    gamma = {"parameter": "gamma", "metric": "minority_f1", "fixed": {"alpha": 0.25}, "chosen": 2.0}
    gamma["points"] = [point, {**point, "value": 2.0, "mean": 0.6}]
    alpha = {"parameter": "alpha", "metric": "minority_f1", "fixed": {"gamma": 2.0}, "chosen": 0.25}
    alpha["points"] = [{"value": 0.25, "mean": 0.6, "sd": None, "seeds": [0.6]}]
    assert base64.b64decode(tune_path([gamma, alpha])).startswith(b"\x89PNG")
