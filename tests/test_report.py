"""The report's headline in words: signed differences, the verdict on the rare classes."""

from focalcls.report import comparison_sentence, headline


def run(macro, minority, val=0.5):
    return {
        "kind": "preset",
        "metrics": {"macro_f1": macro, "minority_f1": minority, "minority_labels": ["x"], "val": {"macro_f1": val}},
    }


def test_sentence_gives_signs_values_and_relative_minority_change():
    runs = {"ce": run(0.788, 0.650), "balanced": run(0.806, 0.694)}
    assert comparison_sentence("balanced", "ce", runs) == (
        "Against ce, balanced is higher on macro-F1 by +0.018 (0.788 to 0.806) and higher on minority-class F1"
        " by +0.044 (0.650 to 0.694, +6.8% relative)."
    )
    runs["tfidf"] = run(0.810, 0.694)
    assert comparison_sentence("balanced", "tfidf", runs) == (
        "Against tfidf, balanced is lower on macro-F1 by -0.004 (0.810 to 0.806) "
        "and level on minority-class F1 (0.694)."
    )


def test_verdict_says_whether_the_rare_classes_gain():
    runs = {"ce": run(0.79, 0.65, val=0.80), "moderate": run(0.78, 0.62, val=0.81), "tfidf": run(0.5, 0.4)}
    answer = headline(runs, "moderate", "macro_f1", ["tfidf"])
    assert (
        answer["verdict"]
        == "For the rare classes, moderate does not help: minority-class F1 -0.030 against ce on test."
    )
    assert [s.split(",")[0] for s in answer["sentences"]] == ["Against ce", "Against tfidf"]
    assert "no focal-loss preset beat it" in headline(runs, "ce", "macro_f1", ["tfidf"])["verdict"]
    assert "no ce preset" in headline({"moderate": runs["moderate"]}, "moderate", "macro_f1", [])["verdict"]


def test_no_binary_curves_gives_no_figure_and_a_tie_is_no_gain():
    from focalcls.plots import binary_curves

    assert binary_curves({"ce": {"curves": None, "roc_auc": None}, "moderate": {"curves": None}}) is None
    runs = {"ce": run(0.79, 0.6502, val=0.80), "moderate": run(0.80, 0.6504, val=0.81)}
    answer = headline(runs, "moderate", "macro_f1", [])
    assert "level on minority-class F1 (0.650)" in answer["sentences"][0]
    assert answer["verdict"].startswith("For the rare classes, moderate makes no difference")


def test_with_intervals_a_gain_counts_only_when_its_interval_is_above_zero():
    runs = {"ce": run(0.788, 0.650), "balanced": run(0.806, 0.694, val=0.9), "tfidf": run(0.5, 0.4)}
    wide = {"ce": {"macro_f1": (-0.01, 0.05), "minority_f1": (-0.03, 0.11)}}
    answer = headline(runs, "balanced", "macro_f1", ["tfidf"], wide)
    assert "(0.650 to 0.694, +6.8% relative; 95% interval -0.030 to +0.110)" in answer["sentences"][0]
    assert "cannot be told apart" in answer["verdict"] and "spans zero" in answer["verdict"]
    assert "interval" not in answer["sentences"][1]  # no paired predictions for tfidf given
    clear = {"ce": {"macro_f1": (0.01, 0.03), "minority_f1": (0.02, 0.07)}}
    assert headline(runs, "balanced", "macro_f1", [], clear)["verdict"].startswith(
        "For the rare classes, balanced helps"
    )
    worse = {"ce": {"macro_f1": (-0.03, -0.01), "minority_f1": (-0.07, -0.02)}}
    assert "does worse than ce" in headline(runs, "balanced", "macro_f1", [], worse)["verdict"]
