"""The review queue: a threshold on the calibrated confidence, chosen on validation, below which a row goes to a
person; the rows at or above it are labelled automatically.

predict.review asks for one of two things: `precision`, the share of automatically labelled rows that must be
right (the most rows labelled automatically that still reach it), or `share`, the most rows a person can review
(the fewest rows sent that stay within it). The threshold is chosen on validation rows only and then applied,
unchanged, to test and to new files; how it fares on test is what the report shows."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

CURVE_POINTS = 200


def cut_points(confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows by confidence, highest first, and the numbers k of top rows a threshold can separate from the rest:
    rows of equal confidence fall on the same side of any threshold, so k only ends a run of equal values."""
    order = np.argsort(-confidence, kind="stable")
    ranked = confidence[order]
    ends = np.flatnonzero(np.append(ranked[1:] < ranked[:-1], True)) + 1
    return order, ends


def coverage_curve(confidence: np.ndarray, correct: np.ndarray, points: int = CURVE_POINTS) -> dict:
    """Accuracy of the rows labelled automatically against their share (coverage), for every threshold;
    thinned to about `points`, the last point (everything labelled) always kept."""
    order, ends = cut_points(confidence)
    hits = np.cumsum(correct[order])
    keep = ends[np.unique(np.linspace(0, len(ends) - 1, min(points, len(ends))).round().astype(int))]
    return {
        "coverage": [round(float(k / len(confidence)), 5) for k in keep],
        "accuracy": [round(float(hits[k - 1] / k), 5) for k in keep],
    }


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: Mapping) -> dict:
    """The threshold `target` ({"precision": p} or {"share": s}) asks for on these (validation) rows: rows whose
    confidence is at least it are labelled automatically. A precision no set of top rows reaches gives no
    threshold (every row goes to a person) and says what precision can be reached, and at what coverage."""
    n = len(confidence)
    if not n:
        raise ValueError("no rows to choose a review threshold on")
    order, ends = cut_points(confidence)
    ranked = confidence[order]
    precision = np.cumsum(correct[order])[ends - 1] / ends
    if "share" in target:
        # The fewest automatic rows that leave at most share * n to a person.
        i = int(np.searchsorted(ends, n - np.floor(target["share"] * n + 1e-9)))
        return point(float(ranked[ends[i] - 1]), int(ends[i]), n, float(precision[i]), reached=True)
    reached = np.flatnonzero(precision >= target["precision"] - 1e-12)
    if len(reached):
        i = int(reached[-1])  # the most rows that still reach the target
        return point(float(ranked[ends[i] - 1]), int(ends[i]), n, float(precision[i]), reached=True)
    best = int(np.flatnonzero(precision == precision.max())[-1])
    found = point(None, 0, n, None, reached=False)
    found["best"] = {"precision": float(precision[best]), "coverage": float(ends[best] / n), "rows": int(ends[best])}
    return found


def point(threshold: float | None, rows: int, n: int, precision: float | None, *, reached: bool) -> dict:
    return {
        "threshold": threshold,
        "reached": reached,
        "rows": n,
        "automatic": rows,
        "coverage": rows / n if n else 0.0,
        "precision": precision,
    }


def needs_review(confidence: np.ndarray, threshold: float | None) -> np.ndarray:
    """True where a person must look: below the threshold, no threshold reachable, or no prediction (NaN)."""
    if threshold is None:
        return np.ones(len(confidence), dtype=bool)
    return ~(np.nan_to_num(confidence, nan=-1.0) >= threshold)


def target_words(target: Mapping) -> str:
    if "share" in target:
        return f"at most {target['share']:.0%} of rows to a person"
    return f"precision {target['precision']:g} on the rows labelled automatically"


def unreachable_words(target: Mapping, chosen: Mapping) -> str:
    """Why no threshold was set, and what the validation rows can reach instead."""
    best = chosen["best"]
    return (
        f"predict.review asks for {target_words(target)}, which no threshold reaches on validation: the highest "
        f"precision there is {best['precision']:.3f}, on the {best['rows']} most confident of {chosen['rows']} rows "
        f"(coverage {best['coverage']:.1%}); every row is sent to a person. Lower predict.review.precision to at "
        f"most {best['precision']:.3f}, or give predict.review.share instead"
    )
