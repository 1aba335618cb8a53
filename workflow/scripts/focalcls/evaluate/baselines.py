"""The classic first try: TF-IDF over character 1-3-grams (so Chinese works) + logistic regression."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from focalcls.data.cleaning import TEXT
from focalcls.evaluate.prediction_table import label_ids


def tfidf_probs(
    train: pd.DataFrame, frames: dict[str, pd.DataFrame], labels: Sequence[str], *, seed: int, c: float = 10.0
) -> dict[str, np.ndarray]:
    """Class probabilities for each frame, columns in `labels` order (classes absent in train get 0)."""
    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1),
        LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed),
    )
    pipeline.fit(train[TEXT], label_ids(train, labels))
    classes = pipeline.classes_
    out = {}
    for name, frame in frames.items():
        probs = np.zeros((len(frame), len(labels)))
        probs[:, classes] = pipeline.predict_proba(frame[TEXT])
        out[name] = probs
    return out
