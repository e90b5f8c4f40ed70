#pragma once
// Shared machinery of the ranking metrics. Every curve is computed over a fixed sort of the original
// samples plus a count per sample, so a bootstrap resample costs O(n) instead of a fresh sort, and the
// point estimate is the same code with every count 1.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dfscan/metrics.hpp"

namespace dfscan::eval::detail {

// numpy's pairwise summation (np.sum / np.add.reduce on a contiguous float64 array), reproduced so
// that sums agree with scikit-learn bit for bit wherever the summands do.
double pairwise_sum(const double* values, std::size_t n);

struct Ranking {
  const std::vector<int>* labels = nullptr;
  const std::vector<double>* scores = nullptr;
  std::vector<std::size_t> by_score_desc;  // P(fake) descending: sklearn's curve order
  std::vector<double> bona_scores;         // 1 - P(fake), the ASVspoof score of a bona fide trial
  std::vector<std::size_t> det_order;      // bona fide score ascending, bona fide first among ties
};

// The caller keeps labels and scores alive while the Ranking is used.
Ranking rank_samples(const std::vector<int>& labels, const std::vector<double>& scores);

// counts[i] = how many times sample i is in the (re)sample; nullptr means once each.
using Counts = std::vector<std::uint32_t>;
Metric weighted_roc_auc(const Ranking& ranking, const Counts* counts);
Metric weighted_average_precision(const Ranking& ranking, const Counts* counts);
EqualErrorRate weighted_equal_error_rate(const Ranking& ranking, const Counts* counts);

inline constexpr const char* kOneClassReason = "only one class present";
inline constexpr const char* kNoSamplesReason = "no samples";

}  // namespace dfscan::eval::detail
