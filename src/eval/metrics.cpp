// Point metrics: AUC and AP as scikit-learn 1.2, EER as the ASVspoof 2019/2021 scorer, log-loss as DFDC.
#include "dfscan/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "dfscan/status.hpp"
#include "eval/ranking.hpp"

namespace dfscan::eval {
namespace detail {

double pairwise_sum(const double* values, std::size_t n) {
  // Same blocking as numpy: below 8 a plain loop, up to 128 eight interleaved accumulators,
  // above that split in two at a multiple of 8.
  if (n < 8) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += values[i];
    return sum;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = values[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += values[i + j];
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += values[i];
    return sum;
  }
  std::size_t half = n / 2;
  half -= half % 8;
  return pairwise_sum(values, half) + pairwise_sum(values + half, n - half);
}

Ranking rank_samples(const std::vector<int>& labels, const std::vector<double>& scores) {
  Ranking r;
  r.labels = &labels;
  r.scores = &scores;
  const std::size_t n = scores.size();
  r.by_score_desc.resize(n);
  std::iota(r.by_score_desc.begin(), r.by_score_desc.end(), std::size_t{0});
  std::stable_sort(r.by_score_desc.begin(), r.by_score_desc.end(),
                   [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  r.bona_scores.resize(n);
  for (std::size_t i = 0; i < n; ++i) r.bona_scores[i] = 1.0 - scores[i];
  r.det_order.resize(n);
  std::iota(r.det_order.begin(), r.det_order.end(), std::size_t{0});
  // The scorer concatenates bona fide trials before spoofs and merge-sorts: among equal scores
  // bona fide (real, label 0) come first.
  const auto& bona = r.bona_scores;
  std::stable_sort(r.det_order.begin(), r.det_order.end(), [&](std::size_t a, std::size_t b) {
    if (bona[a] != bona[b]) return bona[a] < bona[b];
    return labels[a] == 0 && labels[b] != 0;
  });
  return r;
}

namespace {

double count_of(const Counts* counts, std::size_t i) {
  return counts ? static_cast<double>((*counts)[i]) : 1.0;
}

// sklearn's _binary_clf_curve: cumulative false/true positives at each distinct score, descending.
struct ClfCurve {
  std::vector<double> fps, tps, thresholds;
};

ClfCurve clf_curve(const Ranking& r, const Counts* counts) {
  const auto& labels = *r.labels;
  const auto& scores = *r.scores;
  const auto& order = r.by_score_desc;
  ClfCurve c;
  double tp = 0, fp = 0, group_weight = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::size_t i = order[k];
    const double w = count_of(counts, i);
    (labels[i] ? tp : fp) += w;
    group_weight += w;
    const bool group_ends = k + 1 == order.size() || scores[order[k + 1]] != scores[i];
    if (!group_ends) continue;
    if (group_weight > 0) {  // a score absent from the resample is not a threshold of it
      c.fps.push_back(fp);
      c.tps.push_back(tp);
      c.thresholds.push_back(scores[i]);
    }
    group_weight = 0;
  }
  return c;
}

std::string missing_class_reason(const ClfCurve& c) {
  if (c.tps.empty()) return kNoSamplesReason;
  return std::string(kOneClassReason) + (c.tps.back() == 0 ? " (no fake samples)" : " (no real samples)");
}

bool both_classes(const ClfCurve& c) {
  return !c.tps.empty() && c.tps.back() > 0 && c.fps.back() > 0;
}

}  // namespace

Metric weighted_roc_auc(const Ranking& ranking, const Counts* counts) {
  ClfCurve c = clf_curve(ranking, counts);
  if (!both_classes(c)) return Metric::undefined(missing_class_reason(c));
  // roc_curve(drop_intermediate=True): keep the ends and every point where the curve bends.
  std::vector<double> fps{0.0}, tps{0.0};
  const std::size_t m = c.fps.size();
  for (std::size_t i = 0; i < m; ++i) {
    bool keep = m <= 2 || i == 0 || i + 1 == m;
    if (!keep) {
      const double fps_bend = (c.fps[i + 1] - c.fps[i]) - (c.fps[i] - c.fps[i - 1]);
      const double tps_bend = (c.tps[i + 1] - c.tps[i]) - (c.tps[i] - c.tps[i - 1]);
      keep = fps_bend != 0 || tps_bend != 0;
    }
    if (keep) {
      fps.push_back(c.fps[i]);
      tps.push_back(c.tps[i]);
    }
  }
  const double n_neg = fps.back(), n_pos = tps.back();
  std::vector<double> areas(fps.size() - 1);
  for (std::size_t i = 0; i + 1 < fps.size(); ++i) {
    const double dx = fps[i + 1] / n_neg - fps[i] / n_neg;
    areas[i] = dx * (tps[i + 1] / n_pos + tps[i] / n_pos) / 2.0;
  }
  return Metric::of(pairwise_sum(areas.data(), areas.size()));
}

Metric weighted_average_precision(const Ranking& ranking, const Counts* counts) {
  ClfCurve c = clf_curve(ranking, counts);
  if (!both_classes(c)) return Metric::undefined(missing_class_reason(c));
  // precision_recall_curve reversed so recall decreases, ending at (recall 0, precision 1).
  const std::size_t m = c.tps.size();
  std::vector<double> precision(m + 1), recall(m + 1);
  for (std::size_t j = 0; j < m; ++j) {
    const std::size_t i = m - 1 - j;
    precision[j] = c.tps[i] / (c.tps[i] + c.fps[i]);
    recall[j] = c.tps[i] / c.tps.back();
  }
  precision[m] = 1.0;
  recall[m] = 0.0;
  std::vector<double> steps(m);
  for (std::size_t j = 0; j < m; ++j) steps[j] = (recall[j + 1] - recall[j]) * precision[j];
  return Metric::of(-pairwise_sum(steps.data(), steps.size()));
}

EqualErrorRate weighted_equal_error_rate(const Ranking& ranking, const Counts* counts) {
  const auto& labels = *ranking.labels;
  double n_bona = 0, n_spoof = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) (labels[i] ? n_spoof : n_bona) += count_of(counts, i);
  if (n_bona == 0 || n_spoof == 0) {
    const std::string why = n_bona + n_spoof == 0 ? kNoSamplesReason
                            : n_bona == 0         ? std::string(kOneClassReason) + " (no real samples)"
                                                  : std::string(kOneClassReason) + " (no fake samples)";
    return {Metric::undefined(why), Metric::undefined(why)};
  }
  const auto& order = ranking.det_order;
  const auto& bona = ranking.bona_scores;
  std::size_t first = 0;
  while (count_of(counts, order[first]) == 0) ++first;
  // The DET curve starts at (FRR 0, FAR 1) with a threshold just below the lowest score.
  double best_frr = 0.0, best_far = 1.0, best_gap = 1.0;
  double best_threshold = bona[order[first]] - 0.001;
  double accepted_bona = 0, seen = 0;  // accepted_bona: bona fide trials at or below the cut
  for (std::size_t k = first; k < order.size(); ++k) {
    const std::size_t i = order[k];
    const auto copies = static_cast<std::uint64_t>(count_of(counts, i));
    for (std::uint64_t u = 0; u < copies; ++u) {
      seen += 1;
      if (labels[i] == 0) accepted_bona += 1;
      const double frr = accepted_bona / n_bona;
      const double far = (n_spoof - (seen - accepted_bona)) / n_spoof;
      const double gap = std::abs(frr - far);
      if (gap < best_gap) {  // strict: argmin keeps the first minimum
        best_gap = gap;
        best_frr = frr;
        best_far = far;
        best_threshold = bona[i];
      }
    }
  }
  return {Metric::of((best_frr + best_far) / 2.0), Metric::of(1.0 - best_threshold)};
}

}  // namespace detail

void validate_samples(const std::vector<int>& labels, const std::vector<double>& scores) {
  if (labels.size() != scores.size())
    throw Error(Status::error, "metrics: " + std::to_string(labels.size()) + " labels but " +
                                   std::to_string(scores.size()) + " scores");
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1)
      throw Error(Status::error, "metrics: label " + std::to_string(labels[i]) + " of sample " +
                                     std::to_string(i) + " is neither 0 (real) nor 1 (fake)");
    if (!std::isfinite(scores[i]))
      throw Error(Status::error, "metrics: score of sample " + std::to_string(i) + " is not finite");
  }
}

Metric roc_auc(const std::vector<int>& labels, const std::vector<double>& scores) {
  validate_samples(labels, scores);
  return detail::weighted_roc_auc(detail::rank_samples(labels, scores), nullptr);
}

Metric average_precision(const std::vector<int>& labels, const std::vector<double>& scores) {
  validate_samples(labels, scores);
  return detail::weighted_average_precision(detail::rank_samples(labels, scores), nullptr);
}

EqualErrorRate equal_error_rate(const std::vector<int>& labels, const std::vector<double>& scores) {
  validate_samples(labels, scores);
  return detail::weighted_equal_error_rate(detail::rank_samples(labels, scores), nullptr);
}

Metric log_loss(const std::vector<int>& labels, const std::vector<double>& scores) {
  validate_samples(labels, scores);
  if (scores.empty()) return Metric::undefined(detail::kNoSamplesReason);
  std::vector<double> losses(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const double p = std::clamp(scores[i], kLogLossEpsilon, 1.0 - kLogLossEpsilon);
    losses[i] = labels[i] ? -std::log(p) : -std::log(1.0 - p);
  }
  return Metric::of(detail::pairwise_sum(losses.data(), losses.size()) / static_cast<double>(losses.size()));
}

Confusion confusion_at(const std::vector<int>& labels, const std::vector<double>& scores, double threshold) {
  validate_samples(labels, scores);
  Confusion c;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const bool called_fake = scores[i] >= threshold;
    if (labels[i])
      ++(called_fake ? c.tp : c.fn);
    else
      ++(called_fake ? c.fp : c.tn);
  }
  return c;
}

Metric accuracy(const Confusion& c) {
  const std::size_t n = c.tp + c.fp + c.tn + c.fn;
  if (n == 0) return Metric::undefined(detail::kNoSamplesReason);
  return Metric::of(static_cast<double>(c.tp + c.tn) / static_cast<double>(n));
}

Metric balanced_accuracy(const Confusion& c) {
  const std::size_t fakes = c.tp + c.fn, reals = c.tn + c.fp;
  if (fakes + reals == 0) return Metric::undefined(detail::kNoSamplesReason);
  if (fakes == 0 || reals == 0)
    return Metric::undefined(std::string(detail::kOneClassReason) +
                             (fakes == 0 ? " (no fake samples)" : " (no real samples)"));
  const double tpr = static_cast<double>(c.tp) / static_cast<double>(fakes);
  const double tnr = static_cast<double>(c.tn) / static_cast<double>(reals);
  return Metric::of((tpr + tnr) / 2.0);
}

TprAtFpr tpr_at_fpr(const std::vector<int>& labels, const std::vector<double>& scores, double max_fpr) {
  validate_samples(labels, scores);
  const auto ranking = detail::rank_samples(labels, scores);
  std::size_t n_pos = 0;
  for (int y : labels) n_pos += y;
  const std::size_t n_neg = labels.size() - n_pos;
  if (n_pos == 0 || n_neg == 0) {
    const std::string why = labels.empty() ? std::string(detail::kNoSamplesReason)
                                           : std::string(detail::kOneClassReason) +
                                                 (n_pos == 0 ? " (no fake samples)" : " (no real samples)");
    return {Metric::undefined(why), Metric::undefined(why)};
  }
  // Walk the full ROC curve (every distinct threshold); FPR and TPR never decrease along it, so the
  // first point reaching the best TPR is the one with the highest threshold.
  TprAtFpr best{Metric::of(0.0), Metric::undefined("the best operating point flags nothing")};
  double best_tpr = 0.0;
  const auto& order = ranking.by_score_desc;
  double tp = 0, fp = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::size_t i = order[k];
    (labels[i] ? tp : fp) += 1;
    if (k + 1 < order.size() && scores[order[k + 1]] == scores[i]) continue;
    if (fp / static_cast<double>(n_neg) > max_fpr) break;
    const double tpr = tp / static_cast<double>(n_pos);
    if (tpr > best_tpr) {
      best_tpr = tpr;
      best = {Metric::of(tpr), Metric::of(scores[i])};
    }
  }
  return best;
}

}  // namespace dfscan::eval
