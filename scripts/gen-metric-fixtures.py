#!/usr/bin/python3
"""Writes tests/data/metrics/: metric inputs with the values the references give for them.

References: scikit-learn (AUC, AP, log-loss, accuracy, ROC curve), scipy (normal quantiles for the
DET axes), a numpy re-implementation of the ASVspoof 2019/2021 scorer's EER (compute_det_curve +
compute_eer) and of the ASVspoof 2019 t-DCF v1 (min t-DCF with the organisers' ASV scores and the
evaluation plan's cost model), with dfscan's conventions:
label 1 = fake, score = P(fake), bona fide = real scored 1 - P(fake), EER threshold reported back
as 1 - threshold. Run with Debian's /usr/bin/python3 (numpy + sklearn); output is deterministic.
"""
import csv
import json
import os
import sys

import numpy as np
import scipy.stats
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


def det_curve(target, nontarget):
    """The ASVspoof scorer's compute_det_curve (targets = bona fide, higher = more bona fide)."""
    n = target.size + nontarget.size
    joined = np.concatenate((target, nontarget))
    is_target = np.concatenate((np.ones(target.size), np.zeros(nontarget.size)))
    order = np.argsort(joined, kind="mergesort")
    is_target = is_target[order]
    tar_sums = np.cumsum(is_target)
    non_sums = nontarget.size - (np.arange(1, n + 1) - tar_sums)
    frr = np.concatenate(([0.0], tar_sums / target.size))
    far = np.concatenate(([1.0], non_sums / nontarget.size))
    thresholds = np.concatenate(([joined[order[0]] - 0.001], joined[order]))
    return frr, far, thresholds


def min_tdcf_2019(labels, scores, tar_asv, non_asv, spoof_asv):
    """ASVspoof 2019 t-DCF v1 (evaluate_tDCF_asvspoof19 / eval_metrics.compute_tDCF) re-implemented:
    the ASV works at its EER threshold; C1, C2 from the evaluation plan's cost model."""
    p_spoof = 0.05
    cost = {"Pspoof": p_spoof, "Ptar": (1 - p_spoof) * 0.99, "Pnon": (1 - p_spoof) * 0.01,
            "Cmiss_asv": 1, "Cfa_asv": 10, "Cmiss_cm": 1, "Cfa_cm": 10}
    frr, far, thr = det_curve(tar_asv, non_asv)
    k = int(np.argmin(np.abs(frr - far)))
    asv_eer, asv_threshold = float(np.mean((frr[k], far[k]))), float(thr[k])
    p_fa_asv = np.sum(non_asv >= asv_threshold) / non_asv.size
    p_miss_asv = np.sum(tar_asv < asv_threshold) / tar_asv.size
    p_miss_spoof_asv = np.sum(spoof_asv < asv_threshold) / spoof_asv.size
    bona_cm = 1.0 - scores[labels == 0]
    spoof_cm = 1.0 - scores[labels == 1]
    p_miss_cm, p_fa_cm, cm_thr = det_curve(bona_cm, spoof_cm)
    c1 = cost["Ptar"] * (cost["Cmiss_cm"] - cost["Cmiss_asv"] * p_miss_asv) - \
        cost["Pnon"] * cost["Cfa_asv"] * p_fa_asv
    c2 = cost["Cfa_cm"] * cost["Pspoof"] * (1 - p_miss_spoof_asv)
    assert c1 >= 0 and c2 >= 0
    curve = (c1 * p_miss_cm + c2 * p_fa_cm) / np.minimum(c1, c2)
    i = int(np.argmin(curve))
    return {"min_tdcf": float(curve[i]), "min_tdcf_threshold": float(1.0 - cm_thr[i]),
            "asv_eer": asv_eer, "asv_threshold": asv_threshold, "c1": float(c1), "c2": float(c2),
            "p_fa_asv": float(p_fa_asv), "p_miss_asv": float(p_miss_asv),
            "p_miss_spoof_asv": float(p_miss_spoof_asv)}


def min_tdcf_2021(labels, scores, tar_asv, non_asv, spoof_asv):
    """ASVspoof 2021's revised t-DCF (tDCF_python_v2; the 2021 eval package's eval_metrics.compute_tDCF)
    re-implemented: the same ASV operating point as 2019; C0, C1, C2 from the tandem system's costs;
    normalised by the t-DCF without a countermeasure, C0 + min(C1, C2)."""
    p_spoof = 0.05
    cost = {"Pspoof": p_spoof, "Ptar": (1 - p_spoof) * 0.99, "Pnon": (1 - p_spoof) * 0.01,
            "Cmiss": 1, "Cfa": 10, "Cfa_spoof": 10}
    frr, far, thr = det_curve(tar_asv, non_asv)
    k = int(np.argmin(np.abs(frr - far)))
    asv_threshold = float(thr[k])
    p_fa_asv = np.sum(non_asv >= asv_threshold) / non_asv.size
    p_miss_asv = np.sum(tar_asv < asv_threshold) / tar_asv.size
    p_fa_spoof_asv = np.sum(spoof_asv >= asv_threshold) / spoof_asv.size
    c0 = cost["Ptar"] * cost["Cmiss"] * p_miss_asv + cost["Pnon"] * cost["Cfa"] * p_fa_asv
    c1 = cost["Ptar"] * cost["Cmiss"] - (cost["Ptar"] * cost["Cmiss"] * p_miss_asv +
                                         cost["Pnon"] * cost["Cfa"] * p_fa_asv)
    c2 = cost["Pspoof"] * cost["Cfa_spoof"] * p_fa_spoof_asv
    assert c0 >= 0 and c1 >= 0 and c2 >= 0
    p_miss_cm, p_fa_cm, cm_thr = det_curve(1.0 - scores[labels == 0], 1.0 - scores[labels == 1])
    curve = (c0 + c1 * p_miss_cm + c2 * p_fa_cm) / (c0 + np.minimum(c1, c2))
    i = int(np.argmin(curve))
    return {"min_tdcf": float(curve[i]), "min_tdcf_threshold": float(1.0 - cm_thr[i]),
            "c0": float(c0), "c1": float(c1), "c2": float(c2), "p_fa_spoof_asv": float(p_fa_spoof_asv)}


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
    if labels.min() != labels.max():
        fpr, tpr, thr = metrics.roc_curve(labels, scores, drop_intermediate=False)
        # sklearn >= 1.3 starts at +inf, 1.2 at max + 1: the C++ side always says +inf.
        out["expected_roc"] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": thr[1:].tolist()}
    if groups is not None:
        groups = np.asarray(groups)
        per_group = {}
        for g in sorted(set(groups.tolist())):
            m = groups == g
            # A group without reals (a manipulation method) is its fakes against all reals.
            vs_all_reals = not (labels[m] == 0).any()
            if vs_all_reals:
                m = m | (labels == 0)
            per_group[g] = expected(labels[m], scores[m], threshold)
            per_group[g]["vs_all_reals"] = bool(vs_all_reals)
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

    # min t-DCF (2019 and 2021): synthetic ASV scores (target / non-target / spoof trials) and CM scores.
    tdcf_cases = []
    for name, n_asv, decimals in [("tdcf_continuous", (300, 200, 250), None), ("tdcf_ties", (120, 90, 100), 1)]:
        tar = rng.normal(3.0, 1.2, n_asv[0])
        non = rng.normal(-2.0, 1.5, n_asv[1])
        spf = rng.normal(0.5, 2.0, n_asv[2])
        labels = (rng.random(400) < 0.6).astype(int)
        scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1)
        if decimals is not None:
            tar, non, spf, scores = (np.round(v, decimals) for v in (tar, non, spf, scores))
        tdcf_cases.append({"name": name, "labels": labels.tolist(), "scores": scores.tolist(),
                           "asv": {"target": tar.tolist(), "nontarget": non.tolist(), "spoof": spf.tolist()},
                           "expected": min_tdcf_2019(labels, scores, tar, non, spf),
                           "expected_2021": min_tdcf_2021(labels, scores, tar, non, spf)})
    probit = [{"p": p, "x": float(scipy.stats.norm.ppf(p))}
              for p in (1e-6, 1e-3, 0.01, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97575, 0.99, 0.999, 1 - 1e-6)]

    os.makedirs(OUT, exist_ok=True)
    first = tdcf_cases[0]
    with open(os.path.join(OUT, "tdcf_asv_scores.txt"), "w") as f:
        for key in ("target", "nontarget", "spoof"):
            for i, v in enumerate(first["asv"][key]):
                f.write(f"LA_{i % 20:04d} {key} {v!r}\n")
    with open(os.path.join(OUT, "tdcf_cm_scores.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "label", "score"])
        for i, (y, sc) in enumerate(zip(first["labels"], first["scores"])):
            w.writerow([f"LA_E_{i:07d}", "fake" if y else "real", repr(float(sc))])
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"generator": "scripts/gen-metric-fixtures.py", "sklearn": sklearn.__version__,
                   "numpy": np.__version__, "cases": cases, "tdcf_cases": tdcf_cases, "probit": probit},
                  f, indent=1)
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
