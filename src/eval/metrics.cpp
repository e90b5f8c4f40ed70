// Point metrics: AUC and AP as scikit-learn 1.2, EER as the ASVspoof 2019/2021 scorer, log-loss as DFDC.
#include "dfscan/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>

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

namespace {

// The ASVspoof scorer's compute_det_curve: target (bona fide) and non-target scores, higher = more
// bona fide; a stable ascending sort with targets first among ties; the curve starts at (0, 1).
struct DetCurve {
  std::vector<double> frr, far, thresholds;
};

DetCurve det_curve(const std::vector<double>& target, const std::vector<double>& nontarget) {
  std::vector<std::pair<double, int>> all;  // (score, 1 = target)
  all.reserve(target.size() + nontarget.size());
  for (double s : target) all.emplace_back(s, 1);
  for (double s : nontarget) all.emplace_back(s, 0);
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  DetCurve c;
  const double n_tar = static_cast<double>(target.size()), n_non = static_cast<double>(nontarget.size());
  c.frr.push_back(0.0);
  c.far.push_back(1.0);
  c.thresholds.push_back(all.front().first - 0.001);
  double targets_below = 0;
  for (std::size_t k = 0; k < all.size(); ++k) {
    targets_below += all[k].second;
    const double nontargets_above = n_non - (static_cast<double>(k + 1) - targets_below);
    c.frr.push_back(targets_below / n_tar);
    c.far.push_back(nontargets_above / n_non);
    c.thresholds.push_back(all[k].first);
  }
  return c;
}

// compute_eer: (EER, threshold) at the first argmin |FRR - FAR|.
std::pair<double, double> det_eer(const DetCurve& c) {
  std::size_t best = 0;
  for (std::size_t k = 1; k < c.frr.size(); ++k)
    if (std::abs(c.frr[k] - c.far[k]) < std::abs(c.frr[best] - c.far[best])) best = k;
  return {(c.frr[best] + c.far[best]) / 2.0, c.thresholds[best]};
}

double fraction(const std::vector<double>& values, const std::function<bool(double)>& pick) {
  std::size_t n = 0;
  for (double v : values) n += pick(v);
  return static_cast<double>(n) / static_cast<double>(values.size());
}

}  // namespace

AsvScores read_asv_scores(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw Error(Status::not_found, "cannot open ASV score file " + file);
  AsvScores out;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    if (f.empty()) continue;
    const std::string where = file + ":" + std::to_string(line_no) + ": ";
    if (f.size() < 3)
      throw Error(Status::error, where + "expected SOURCE KEY SCORE (key target, nontarget or spoof)");
    char* end = nullptr;
    const double score = std::strtod(f.back().c_str(), &end);
    if (end != f.back().c_str() + f.back().size() || !std::isfinite(score))
      throw Error(Status::error, where + "score \"" + f.back() + "\" is not a finite number");
    if (f[1] == "target")
      out.target.push_back(score);
    else if (f[1] == "nontarget")
      out.nontarget.push_back(score);
    else if (f[1] == "spoof")
      out.spoof.push_back(score);
    else
      throw Error(Status::error, where + "key \"" + f[1] + "\" is not target, nontarget or spoof");
  }
  return out;
}

namespace {

TandemDcf undefined_tdcf(TandemDcf out, const std::string& why) {
  out.min_tdcf = out.threshold = Metric::undefined(why);
  if (!out.asv_eer.defined()) out.asv_eer = out.asv_threshold = Metric::undefined(why);
  return out;
}

// The ASV system's fixed operating point, its own EER threshold, and its error rates there.
// False when a trial type is missing.
bool asv_operating_point(const AsvScores& asv, TandemDcf& out) {
  if (asv.target.empty() || asv.nontarget.empty() || asv.spoof.empty()) return false;
  const auto [asv_eer, eer_threshold] = det_eer(det_curve(asv.target, asv.nontarget));
  const double asv_threshold = eer_threshold;  // C++17 lambdas cannot capture a structured binding
  out.asv_eer = Metric::of(asv_eer);
  out.asv_threshold = Metric::of(asv_threshold);
  out.p_fa_asv = fraction(asv.nontarget, [&](double s) { return s >= asv_threshold; });
  out.p_miss_asv = fraction(asv.target, [&](double s) { return s < asv_threshold; });
  out.p_miss_spoof_asv = fraction(asv.spoof, [&](double s) { return s < asv_threshold; });
  out.p_fa_spoof_asv = fraction(asv.spoof, [&](double s) { return s >= asv_threshold; });
  return true;
}

// Both editions' last step: the minimum of (C0 + C1 Pmiss_cm(t) + C2 Pfa_cm(t)) / (C0 + min(C1, C2))
// over the CM's DET curve (bona fide = real, scored 1 - P(fake)), and the CM threshold reaching it.
// 2019's formula is the case C0 = 0 (adding 0.0 changes no bit).
TandemDcf minimise_tdcf(const std::vector<int>& labels, const std::vector<double>& scores, TandemDcf out) {
  std::vector<double> bona, spoof;
  for (std::size_t i = 0; i < labels.size(); ++i) (labels[i] ? spoof : bona).push_back(1.0 - scores[i]);
  if (bona.empty() || spoof.empty())
    return undefined_tdcf(out, labels.empty()
                                   ? detail::kNoSamplesReason
                                   : std::string(detail::kOneClassReason) +
                                         (bona.empty() ? " (no real samples)" : " (no fake samples)"));
  if (std::set<double>(scores.begin(), scores.end()).size() < 3)
    return undefined_tdcf(out, "fewer than 3 distinct scores: t-DCF needs soft scores, not decisions");
  if (!std::isfinite(out.c0) || !std::isfinite(out.c1) || !std::isfinite(out.c2))
    return undefined_tdcf(out, "a t-DCF cost weight is not a finite number");
  if (out.c0 < 0 || out.c1 < 0 || out.c2 < 0)
    return undefined_tdcf(out, out.edition == TdcfEdition::asvspoof2019
                                   ? "a t-DCF cost weight is negative (C1 or C2 < 0)"
                                   : "a t-DCF cost weight is negative (C0, C1 or C2 < 0)");
  const double norm = out.c0 + std::min(out.c1, out.c2);
  if (norm == 0)
    return undefined_tdcf(out, out.edition == TdcfEdition::asvspoof2019
                                   ? "a t-DCF cost weight is zero (C1 or C2 = 0)"
                                   : "the t-DCF of no countermeasure, C0 + min(C1, C2), is zero");
  const auto cm = det_curve(bona, spoof);
  std::size_t best = 0;
  double best_value = 0;
  for (std::size_t k = 0; k < cm.frr.size(); ++k) {
    // The scorers' order of operations, so that values match them to the last bit.
    const double value = (out.c0 + out.c1 * cm.frr[k] + out.c2 * cm.far[k]) / norm;
    if (k == 0 || value < best_value) {
      best = k;
      best_value = value;
    }
  }
  out.min_tdcf = Metric::of(best_value);
  out.threshold = Metric::of(1.0 - cm.thresholds[best]);
  return out;
}

constexpr const char* kAsvTrialsReason = "the ASV scores need target, nontarget and spoof trials";

}  // namespace

TandemDcf min_tdcf_2019(const std::vector<int>& labels, const std::vector<double>& scores,
                        const AsvScores& asv, const TdcfCostModel& cost) {
  validate_samples(labels, scores);
  TandemDcf out;
  out.edition = TdcfEdition::asvspoof2019;
  if (!asv_operating_point(asv, out)) return undefined_tdcf(out, kAsvTrialsReason);
  out.c1 = cost.p_target * (cost.c_miss_cm - cost.c_miss_asv * out.p_miss_asv) -
           cost.p_nontarget * cost.c_fa_asv * out.p_fa_asv;
  out.c2 = cost.c_fa_cm * cost.p_spoof * (1 - out.p_miss_spoof_asv);
  return minimise_tdcf(labels, scores, out);
}

TandemDcf min_tdcf_2021(const std::vector<int>& labels, const std::vector<double>& scores,
                        const AsvScores& asv, const TdcfCostModel2021& cost) {
  validate_samples(labels, scores);
  TandemDcf out;
  out.edition = TdcfEdition::asvspoof2021;
  if (!asv_operating_point(asv, out)) return undefined_tdcf(out, kAsvTrialsReason);
  out.c0 = cost.p_target * cost.c_miss * out.p_miss_asv + cost.p_nontarget * cost.c_fa * out.p_fa_asv;
  out.c1 = cost.p_target * cost.c_miss - out.c0;
  out.c2 = cost.p_spoof * cost.c_fa_spoof * out.p_fa_spoof_asv;
  return minimise_tdcf(labels, scores, out);
}

TandemDcf min_tdcf_2021(const std::vector<int>& labels, const std::vector<double>& scores,
                        const TdcfCoefficients& c012) {
  validate_samples(labels, scores);
  TandemDcf out;
  out.edition = TdcfEdition::asvspoof2021;
  out.asv_eer = out.asv_threshold = Metric::undefined("C0, C1 and C2 were given, not ASV scores");
  out.c0 = c012.c0;
  out.c1 = c012.c1;
  out.c2 = c012.c2;
  return minimise_tdcf(labels, scores, out);
}

RocCurve roc_curve(const std::vector<int>& labels, const std::vector<double>& scores) {
  validate_samples(labels, scores);
  RocCurve c;
  std::size_t n_pos = 0;
  for (int y : labels) n_pos += static_cast<std::size_t>(y);
  const std::size_t n_neg = labels.size() - n_pos;
  if (n_pos == 0 || n_neg == 0) return c;
  const auto ranking = detail::rank_samples(labels, scores);
  c.fpr.push_back(0.0);
  c.tpr.push_back(0.0);
  c.thresholds.push_back(std::numeric_limits<double>::infinity());
  double tp = 0, fp = 0;
  const auto& order = ranking.by_score_desc;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::size_t i = order[k];
    (labels[i] ? tp : fp) += 1;
    if (k + 1 < order.size() && scores[order[k + 1]] == scores[i]) continue;
    c.fpr.push_back(fp / static_cast<double>(n_neg));
    c.tpr.push_back(tp / static_cast<double>(n_pos));
    c.thresholds.push_back(scores[i]);
  }
  return c;
}

Aggregated mean_by_key(const std::vector<int>& labels, const std::vector<double>& scores,
                       const std::vector<std::string>& keys) {
  validate_samples(labels, scores);
  if (keys.size() != labels.size())
    throw Error(Status::error, "metrics: " + std::to_string(keys.size()) + " keys for " +
                                   std::to_string(labels.size()) + " samples");
  Aggregated out;
  std::unordered_map<std::string, std::size_t> slot;
  std::vector<std::vector<double>> members;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto [it, inserted] = slot.emplace(keys[i], out.keys.size());
    if (inserted) {
      out.keys.push_back(keys[i]);
      out.labels.push_back(labels[i]);
      members.emplace_back();
    } else if (out.labels[it->second] != labels[i]) {
      throw Error(Status::error, "video \"" + keys[i] + "\" has both fake and real samples");
    }
    members[it->second].push_back(scores[i]);
  }
  out.scores.reserve(members.size());
  for (const auto& m : members)
    out.scores.push_back(detail::pairwise_sum(m.data(), m.size()) / static_cast<double>(m.size()));
  return out;
}

}  // namespace dfscan::eval
