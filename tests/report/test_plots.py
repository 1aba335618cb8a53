"""Report figures with the user's label names drawn as they are."""

import matplotlib.pyplot as plt
import pandas as pd

from focalcls.report import plots


def test_labels_that_look_like_mathtext_are_drawn_as_plain_text():
    """'$_$' crashed matplotlib's mathtext parser, after every preset had trained."""
    names = ["$_$", "a^b$", "体育"]
    matrix = pd.DataFrame([[3, 0, 0], [0, 2, 1], [0, 0, 4]], index=pd.Index(names, name="true"), columns=names)
    assert plots.confusion_matrix(matrix, "ce $x_1$")  # a base64 PNG
    assert plt.rcParams["text.parse_math"] is False


def test_the_search_path_draws_one_panel_per_stage_with_or_without_seeds():
    import base64

    from focalcls.report.plots import tune_path

    point = {"value": 1.0, "mean": 0.5, "sd": 0.02, "seeds": [0.48, 0.52]}
    gamma = {"parameter": "gamma", "metric": "minority_f1", "fixed": {"alpha": 0.25}, "chosen": 2.0}
    gamma["points"] = [point, {**point, "value": 2.0, "mean": 0.6}]
    alpha = {"parameter": "alpha", "metric": "minority_f1", "fixed": {"gamma": 2.0}, "chosen": 0.25}
    alpha["points"] = [{"value": 0.25, "mean": 0.6, "sd": None, "seeds": [0.6]}]
    assert base64.b64decode(tune_path([gamma, alpha])).startswith(b"\x89PNG")


def png_size(png: str) -> tuple[int, int, int]:
    """(width, height, bytes) of a base64 PNG, read from its header."""
    import base64
    import struct

    data = base64.b64decode(png)
    width, height = struct.unpack(">II", data[16:24])
    return width, height, len(data)


def many_label_runs(labels: list[str]) -> dict:
    """Two presets' outputs as report_runs reads them, for `labels`, without any training."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = len(labels)
    runs = {}
    for name in ("ce", "focal"):
        matrix = rng.integers(0, 5, size=(n, n)) + np.diag(rng.integers(5, 50, size=n))
        runs[name] = {
            "metrics": {"per_class": {x: {"f1": float(rng.random())} for x in labels}},
            "log": pd.DataFrame(
                {"step": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "val_macro_f1": [0.2, 0.4]}
            ),
            "train": {"best_step": 2, "stop_reason": "max_epochs", "steps": 2},
            "confusion": pd.DataFrame(matrix, index=pd.Index(labels, name="true"), columns=labels),
            "binary": {"curves": None},
        }
    return runs


def test_the_report_figures_stay_bounded_with_500_labels():
    """The confusion figure grew with the square of the label count (500 labels: minutes and gigabytes), and
    past about 800 labels the per-class chart crashed on matplotlib's pixel limit."""
    from focalcls.report.figures import report_figures

    labels = [f"class {i:03d}" for i in range(500)]
    counts = {x: 1000 - i for i, x in enumerate(labels)}
    summary = {"counts": {"train": counts, "test": counts}, "before_balance": {"train": counts}}
    figures = report_figures(many_label_runs(labels), ["ce", "focal"], "focal", labels, summary, {"train": [5, 9]})
    assert len(figures["confusion"]) == 2
    for png in [figures["counts"], figures["per_class"], *figures["confusion"]]:
        width, height, size = png_size(png)
        assert width < 2500 and height < 2500 and size < 200_000
    assert figures["drawn"] == {"bars": plots.BAR_CLASSES, "confusion": plots.CONFUSION_CLASSES, "cell_numbers": 25}


def test_the_most_frequent_and_the_rarest_classes_are_drawn():
    counts = {"a": 5, "b": 50, "c": 1, "d": 20, "e": 2}
    assert plots.shown_classes(list(counts), counts, 5) == list(counts)  # all of them, in their order
    assert plots.shown_classes(list(counts), counts, 4) == ["b", "d", "e", "c"]


def test_a_label_of_2000_characters_is_cut_on_the_axes():
    """It made megabyte figures; tables and files keep the whole name."""
    long = "a category name " * 125 + "ending"
    assert plots.short(long) == long[:19] + "…" + long[-10:] and len(plots.short(long)) == plots.TICK_CHARS
    assert plots.short("sports") == "sports"
    names = [long, "sports", "finance"]
    matrix = pd.DataFrame([[3, 0, 0], [0, 2, 1], [0, 0, 4]], index=pd.Index(names, name="true"), columns=names)
    counts = {"train": dict(zip(names, [3, 3, 4], strict=True))}
    for png in (
        plots.confusion_matrix(matrix, "ce"),
        plots.per_class_f1({"ce": dict.fromkeys(names, 0.5)}, names),
        plots.class_counts(counts, names),
    ):
        width, height, size = png_size(png)
        assert width < 1500 and height < 1000 and size < 100_000


def test_a_log_axis_prints_its_ticks_as_numbers_not_raw_mathtext(monkeypatch):
    monkeypatch.setattr(plots, "to_png", lambda fig: fig)  # the figure itself, to read its ticks
    fig = plots.class_counts({"train": {"a": 5000, "b": 40}, "test": {"a": 500, "b": 4}}, ["a", "b"])
    fig.canvas.draw()
    ax = fig.axes[0]
    shown = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ax.get_yscale() == "log" and "1,000" in shown and not any("$" in t for t in shown)
    plt.close(fig)


def test_the_per_class_chart_draws_the_chosen_preset_ce_and_tfidf_only():
    from focalcls.report.figures import bar_models

    runs = dict.fromkeys(["ce", "mild", "severe", "mild + logit adjustment (tau=1)", "tfidf", "direct"])
    assert bar_models(runs, "severe") == ["severe", "ce", "tfidf"]
    assert bar_models(runs, "ce") == ["ce", "tfidf"]
