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
