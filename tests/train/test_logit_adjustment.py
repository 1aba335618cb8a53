"""Post-hoc logit adjustment: tau chosen on validation, ties to the smaller tau, 0 is the model as trained."""

import numpy as np
import pytest

from focalcls.train.logit_adjustment import adjusted_probs, choose_tau, log_prior

LABELS = ["big", "small"]
COUNTS = {"big": 90, "small": 10}


def test_adjusted_probabilities_move_by_tau_times_the_log_prior():
    probs = np.array([[0.6, 0.4], [0.95, 0.05]])
    prior = log_prior(LABELS, COUNTS)
    assert prior.tolist() == pytest.approx([np.log(0.9), np.log(0.1)])
    assert adjusted_probs(probs, prior, 0.0) == pytest.approx(probs)
    one = adjusted_probs(probs, prior, 1.0)
    # by hand: 0.6 / 0.9 against 0.4 / 0.1, renormalised
    assert one[0].tolist() == pytest.approx([0.6667 / (0.6667 + 4.0), 4.0 / (0.6667 + 4.0)], abs=1e-4)
    assert one.sum(axis=1) == pytest.approx([1.0, 1.0]) and one.argmax(axis=1).tolist() == [1, 0]


def test_tau_that_recovers_the_rare_class_on_validation_is_chosen():
    # a model that under-predicts the rare class: its rows get p(small) 0.3-0.4, never the argmax
    probs = np.array([[0.9, 0.1]] * 8 + [[0.65, 0.35], [0.7, 0.3]])
    truth = np.array([0] * 8 + [1, 1])
    tau, scores = choose_tau(probs, truth, LABELS, COUNTS, [0.0, 0.5, 1.0, 2.0], "macro_f1")
    assert scores[0.0] < scores[tau] == 1.0
    assert tau == 0.5  # 0.5, 1.0 both separate the classes here: the smaller wins


def test_a_model_adjustment_cannot_improve_keeps_tau_zero():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8]])
    tau, scores = choose_tau(probs, np.array([0, 0, 1]), LABELS, COUNTS, [2.0, 0.0, 1.0], "macro_f1")
    assert tau == 0.0 and scores[0.0] == 1.0
