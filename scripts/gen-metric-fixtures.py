#!/usr/bin/python3
"""Writes tests/data/metrics/: metric inputs with the values the references give for them.

References: scikit-learn (AUC, AP, log-loss, accuracy, ROC curve) and a numpy re-implementation of
the ASVspoof 2019/2021 scorer's EER (compute_det_curve + compute_eer), with dfscan's conventions:
label 1 = fake, score = P(fake), bona fide = real scored 1 - P(fake), EER threshold reported back
as 1 - threshold. Run with Debian's /usr/bin/python3 (numpy + sklearn); output is deterministic.
"""
import csv
import json
import os
import sys

import numpy as np
import sklearn
from sklearn import metrics

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "metrics")
MAX_FPR = 0.01


def asvspoof_eer(labels, scores):
    """EER of the ASVspoof scorer: (eer, threshold on the P(fake) scale), or (None, None)."""
    bona = 1.0 - scores[labels == 0]      # target trials: real
    spoof = 1.0 - scores[labels == 1]     # non-target trials: fake
    if bona.size == 0 or spoof.size == 0:
        return None, None
    joined = np.concatenate((bona, spoof))
    is_bona = np.concatenate((np.ones(bona.size), np.zeros(spoof.size)))
    order = np.argsort(joined, kind="mergesort")  # stable: bona fide first among ties
    is_bona = is_bona[order]
    rejected_bona = np.cumsum(is_bona)
    accepted_spoof = spoof.size - (np.arange(1, joined.size + 1) - rejected_bona)
    frr = np.concatenate(([0.0], rejected_bona / bona.size))
    far = np.concatenate(([1.0], accepted_spoof / spoof.size))
    cuts = np.concatenate(([joined[order[0]] - 0.001], joined[order]))
    k = int(np.argmin(np.abs(frr - far)))
    return float(np.mean((frr[k], far[k]))), float(1.0 - cuts[k])


def or_none(fn):
    try:
        return float(fn())
    except ValueError:
        return None


def tpr_at_fpr(labels, scores):
    if labels.min() == labels.max():
        return None, None
    fpr, tpr, thr = metrics.roc_curve(labels, scores, drop_intermediate=False)
    ok = fpr <= MAX_FPR
    best = tpr[ok].max()
    first = int(np.flatnonzero(ok & (tpr == best))[0])
    return float(best), (None if first == 0 else float(thr[first]))


def expected(labels, scores, threshold):
    both = labels.min() != labels.max()
    eer, eer_thr = asvspoof_eer(labels, scores)
    pred = (scores >= threshold).astype(int)
    tpr, tpr_thr = tpr_at_fpr(labels, scores)
    return {
        "n": int(labels.size),
        "n_fake": int(labels.sum()),
        "n_real": int(labels.size - labels.sum()),
        "auc": or_none(lambda: metrics.roc_auc_score(labels, scores)) if both else None,
        # dfscan leaves AP undefined with one class, where sklearn warns or returns a trivial 1.
        "ap": float(metrics.average_precision_score(labels, scores)) if both else None,
        "log_loss": float(metrics.log_loss(labels, scores, eps=1e-15, labels=[0, 1])),
        "eer": eer,
        "eer_threshold": eer_thr,
        "accuracy": float(metrics.accuracy_score(labels, pred)),
        "balanced_accuracy": float(metrics.balanced_accuracy_score(labels, pred)) if both else None,
        "tpr_at_fpr_1pct": tpr,
        "tpr_at_fpr_1pct_threshold": tpr_thr,
        "confusion": {
            "tp": int(((pred == 1) & (labels == 1)).sum()),
            "fp": int(((pred == 1) & (labels == 0)).sum()),
            "tn": int(((pred == 0) & (labels == 0)).sum()),
            "fn": int(((pred == 0) & (labels == 1)).sum()),
        },
    }


def case(name, labels, scores, threshold=0.5, groups=None):
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    out = {"name": name, "threshold": threshold, "max_fpr": MAX_FPR,
           "labels": labels.tolist(), "scores": scores.tolist(),
           "expected": expected(labels, scores, threshold)}
    if groups is not None:
        groups = np.asarray(groups)
        per_group = {}
        for g in sorted(set(groups.tolist())):
            m = groups == g
            per_group[g] = expected(labels[m], scores[m], threshold)
        aucs = {g: e["auc"] for g, e in per_group.items() if e["auc"] is not None}
        out["groups"] = groups.tolist()
        out["expected_groups"] = per_group
        out["expected_auc_gap"] = (max(aucs.values()) - min(aucs.values())) if len(aucs) >= 2 else None
    return out


def main():
    rng = np.random.default_rng(20240601)
    cases = []

    # Random scores with many ties: labels shift the score so AUC is informative, rounding makes ties.
    for n, decimals, p_fake in [(200, 1, 0.5), (1000, 2, 0.2), (3000, 3, 0.7), (57, 1, 0.3)]:
        labels = (rng.random(n) < p_fake).astype(int)
        raw = np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1)
        cases.append(case(f"ties_n{n}_d{decimals}", labels, np.round(raw, decimals)))
    labels = (rng.random(500) < 0.5).astype(int)
    cases.append(case("continuous_n500", labels, np.clip(rng.normal(0.3 + 0.3 * labels, 0.25), 0, 1)))
    # Coarse scores on an imbalanced set: many real/fake ties exactly at the EER crossing.
    labels = (rng.random(400) < 0.25).astype(int)
    cases.append(case("coarse_quarters", labels, rng.integers(0, 5, 400) / 4.0, threshold=0.5))

    # Tiny and degenerate sets.
    cases.append(case("n2_separated", [0, 1], [0.2, 0.9]))
    cases.append(case("n2_reversed", [1, 0], [0.2, 0.9]))
    cases.append(case("n2_tied", [0, 1], [0.5, 0.5]))
    cases.append(case("n3", [1, 0, 1], [0.4, 0.4, 0.8]))
    cases.append(case("n3_other", [0, 1, 0], [0.1, 0.6, 0.6], threshold=0.6))
    cases.append(case("all_equal", [0, 1, 1, 0, 1, 0, 0], [0.5] * 7))
    cases.append(case("all_equal_unbalanced", [1, 1, 1, 0], [0.3] * 4))
    cases.append(case("only_fake", [1, 1, 1], [0.2, 0.7, 0.9]))
    cases.append(case("only_real", [0, 0], [0.1, 0.6]))
    cases.append(case("perfect", [0, 0, 0, 1, 1, 1], [0.0, 0.1, 0.2, 0.8, 0.9, 1.0]))
    cases.append(case("reversed", [1, 1, 1, 0, 0, 0], [0.0, 0.1, 0.2, 0.8, 0.9, 1.0]))
    cases.append(case("hard_zero_one", [1, 0, 1, 0, 1], [1.0, 0.0, 0.0, 1.0, 1.0], threshold=1.0))
    labels = (rng.random(300) < 0.5).astype(int)
    cases.append(case("near_perfect_n300", labels, np.round(np.clip(0.05 + 0.9 * labels +
                                                                    rng.normal(0, 0.08, 300), 0, 1), 2)))

    # Per-group breakdown, also the CLI fixture.
    n = 240
    groups = np.array(["celeb-df", "dfdc", "ffpp", "solo"])[rng.integers(0, 3, n)]
    groups[:5] = "solo"
    labels = (rng.random(n) < 0.5).astype(int)
    labels[:5] = 1  # one class only in "solo": its AUC is undefined and it is left out of the gap
    shift = np.where(groups == "dfdc", 0.05, 0.25)
    scores = np.round(np.clip(rng.normal(0.4 + shift * labels, 0.2), 0, 1), 2)
    grouped = case("grouped_cli", labels, scores, threshold=0.5, groups=groups)
    cases.append(grouped)

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"generator": "scripts/gen-metric-fixtures.py", "sklearn": sklearn.__version__,
                   "numpy": np.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "grouped_scores.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "label", "score", "dataset"])
        for i, (y, s, g) in enumerate(zip(grouped["labels"], grouped["scores"], grouped["groups"])):
            # Mixed label spellings and a quoted path with a comma exercise the reader.
            label = ("fake" if y else "real") if i % 2 else str(y)
            w.writerow([f"clips/{g}/video, take {i}.mp4" if i % 7 == 0 else f"clips/{g}/{i:04d}.mp4",
                        label, repr(float(s)), g])
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
