"""Classifier metrics in numpy (no scikit-learn): ROC AUC, threshold at a false-positive rate."""

from __future__ import annotations

import numpy as np


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the Mann-Whitney U statistic (ties count one half)."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size)
    sorted_s = s[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_at_fpr(negative_scores: np.ndarray, fpr: float) -> float:
    """Smallest threshold t with mean(negative_scores >= t) <= fpr."""
    s = np.sort(np.asarray(negative_scores, dtype=np.float64))[::-1]
    k = int(np.floor(fpr * s.size))
    if k >= s.size:
        return float(s[-1])
    # Strictly above the (k+1)-th highest negative score, so at most k negatives pass.
    return float(np.nextafter(s[k], np.inf))


def recall_at(pos_scores: np.ndarray, threshold: float) -> float:
    s = np.asarray(pos_scores)
    return float(np.mean(s >= threshold)) if s.size else float("nan")
