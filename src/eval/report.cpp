// Whole reports: every metric, percentile-bootstrap intervals, and the per-group breakdown.
#include <algorithm>
#include <cmath>
#include <functional>

#include "dfscan/metrics.hpp"
#include "dfscan/status.hpp"
#include "eval/ranking.hpp"

namespace dfscan::eval {
namespace {

// SplitMix64: tiny, seedable and identical on every platform (std:: distributions are not).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) without modulo bias (Lemire's multiply-and-reject).
  std::uint64_t below(std::uint64_t bound) {
    unsigned __int128 product = static_cast<unsigned __int128>(next()) * bound;
    auto low = static_cast<std::uint64_t>(product);
    if (low < bound) {
      const std::uint64_t floor = (0 - bound) % bound;
      while (low < floor) {
        product = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<std::uint64_t>(product);
      }
    }
    return static_cast<std::uint64_t>(product >> 64);
  }

 private:
  std::uint64_t state_;
};

// numpy's default ("linear") percentile of sorted values, q in [0, 1].
double percentile_sorted(const std::vector<double>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Interval summarize(std::vector<double> values, int skipped, double confidence,
                   const std::string& last_reason) {
  Interval out;
  out.used = static_cast<int>(values.size());
  out.skipped = skipped;
  if (values.empty()) {
    const std::string why =
        "undefined in every resample" + (last_reason.empty() ? "" : " (" + last_reason + ")");
    out.low = Metric::undefined(why);
    out.high = Metric::undefined(why);
    return out;
  }
  std::sort(values.begin(), values.end());
  const double tail = (1.0 - confidence) / 2.0;
  out.low = Metric::of(percentile_sorted(values, tail));
  out.high = Metric::of(percentile_sorted(values, 1.0 - tail));
  return out;
}

}  // namespace

std::map<std::string, Interval> bootstrap_intervals(const std::vector<int>& labels,
                                                    const std::vector<double>& scores,
                                                    const EvalOptions& options) {
  validate_samples(labels, scores);
  const auto& boot = options.bootstrap;
  if (boot.resamples <= 0) return {};
  if (!(boot.confidence > 0 && boot.confidence < 1))
    throw Error(Status::error, "bootstrap confidence must be in (0, 1)");
  const std::size_t n = labels.size();
  std::map<std::string, Interval> out;
  if (n == 0) {
    for (const char* key : {"auc", "ap", "eer", "accuracy"})
      out[key] = Interval{Metric::undefined(detail::kNoSamplesReason),
                          Metric::undefined(detail::kNoSamplesReason), 0, boot.resamples};
    return out;
  }

  const auto ranking = detail::rank_samples(labels, scores);
  std::vector<std::size_t> fakes, reals;
  std::vector<std::uint8_t> correct(n);
  for (std::size_t i = 0; i < n; ++i) {
    (labels[i] ? fakes : reals).push_back(i);
    correct[i] = (scores[i] >= options.threshold) == (labels[i] == 1);
  }

  struct Track {
    std::vector<double> values;
    int skipped = 0;
    std::string last_reason;
    void add(const Metric& m) {
      if (m.defined()) {
        values.push_back(*m.value);
      } else {
        ++skipped;
        last_reason = m.reason;
      }
    }
  };
  Track auc, ap, eer, acc;
  SplitMix64 rng(boot.seed);
  detail::Counts counts(n);
  auto draw_from = [&](const std::vector<std::size_t>& pool) {
    for (std::size_t k = 0; k < pool.size(); ++k) ++counts[pool[rng.below(pool.size())]];
  };
  for (int b = 0; b < boot.resamples; ++b) {
    std::fill(counts.begin(), counts.end(), 0u);
    if (boot.stratified) {
      draw_from(fakes);
      draw_from(reals);
    } else {
      for (std::size_t k = 0; k < n; ++k) ++counts[rng.below(n)];
    }
    auc.add(detail::weighted_roc_auc(ranking, &counts));
    ap.add(detail::weighted_average_precision(ranking, &counts));
    eer.add(detail::weighted_equal_error_rate(ranking, &counts).eer);
    std::size_t right = 0;
    for (std::size_t i = 0; i < n; ++i) right += correct[i] * counts[i];
    acc.add(Metric::of(static_cast<double>(right) / static_cast<double>(n)));
  }
  out["auc"] = summarize(std::move(auc.values), auc.skipped, boot.confidence, auc.last_reason);
  out["ap"] = summarize(std::move(ap.values), ap.skipped, boot.confidence, ap.last_reason);
  out["eer"] = summarize(std::move(eer.values), eer.skipped, boot.confidence, eer.last_reason);
  out["accuracy"] = summarize(std::move(acc.values), acc.skipped, boot.confidence, acc.last_reason);
  return out;
}

Report evaluate(const std::vector<int>& labels, const std::vector<double>& scores,
                const EvalOptions& options) {
  validate_samples(labels, scores);
  Report r;
  r.n = labels.size();
  for (int y : labels) r.n_fake += static_cast<std::size_t>(y);
  r.n_real = r.n - r.n_fake;
  r.threshold = options.threshold;

  const auto ranking = detail::rank_samples(labels, scores);
  r.auc = detail::weighted_roc_auc(ranking, nullptr);
  r.ap = detail::weighted_average_precision(ranking, nullptr);
  const auto eer = detail::weighted_equal_error_rate(ranking, nullptr);
  r.eer = eer.eer;
  r.eer_threshold = eer.threshold;
  r.log_loss = log_loss(labels, scores);
  r.confusion = confusion_at(labels, scores, options.threshold);
  r.accuracy = accuracy(r.confusion);
  r.balanced_accuracy = balanced_accuracy(r.confusion);
  const auto tpr = tpr_at_fpr(labels, scores, options.max_fpr);
  r.tpr_at_fpr = tpr.tpr;
  r.tpr_at_fpr_threshold = tpr.threshold;
  if (options.tdcf_edition == TdcfEdition::asvspoof2021 && options.c012)
    r.tdcf = min_tdcf_2021(labels, scores, *options.c012);
  else if (options.tdcf_edition == TdcfEdition::asvspoof2021 && options.asv)
    r.tdcf = min_tdcf_2021(labels, scores, *options.asv);
  else if (options.asv)
    r.tdcf = min_tdcf_2019(labels, scores, *options.asv);
  r.intervals = bootstrap_intervals(labels, scores, options);
  return r;
}

GroupReports evaluate_by_group(const std::vector<int>& labels, const std::vector<double>& scores,
                               const std::vector<std::string>& groups, const EvalOptions& options) {
  validate_samples(labels, scores);
  if (groups.size() != labels.size())
    throw Error(Status::error, "metrics: " + std::to_string(groups.size()) + " group values for " +
                                   std::to_string(labels.size()) + " samples");
  std::map<std::string, std::vector<std::size_t>> members;
  for (std::size_t i = 0; i < labels.size(); ++i) members[groups[i]].push_back(i);
  GroupReports out;
  out.groups.reserve(members.size());
  for (const auto& [name, rows] : members) {
    bool has_real = false;
    for (auto i : rows) has_real = has_real || labels[i] == 0;
    // No reals of its own (a manipulation method): its fakes against every real, in sample order.
    std::vector<int> group_labels;
    std::vector<double> group_scores;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const bool member = groups[i] == name;
      if (member || (!has_real && labels[i] == 0)) {
        group_labels.push_back(labels[i]);
        group_scores.push_back(scores[i]);
      }
    }
    out.groups.push_back({name, evaluate(group_labels, group_scores, options), !has_real});
  }
  const GroupReport* best = nullptr;
  const GroupReport* worst = nullptr;
  std::size_t defined = 0;
  for (const auto& g : out.groups) {
    if (!g.report.auc.defined()) continue;
    ++defined;
    if (!best || *g.report.auc.value > *best->report.auc.value) best = &g;
    if (!worst || *g.report.auc.value < *worst->report.auc.value) worst = &g;
  }
  if (defined < 2) {
    out.auc_gap = Metric::undefined("fewer than two groups with a defined AUC");
  } else {
    out.auc_gap = Metric::of(*best->report.auc.value - *worst->report.auc.value);
    out.best_group = best->name;
    out.worst_group = worst->name;
  }
  return out;
}

}  // namespace dfscan::eval
