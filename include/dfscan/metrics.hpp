#pragma once
// Evaluation metrics for binary fake/real scoring (CONVENTIONS.md "Metrics"). Torch-free.
//
// Everywhere here: label 1 = fake (the positive class), 0 = real; score = P(fake).
// AUC and AP reproduce scikit-learn 1.2; EER reproduces the ASVspoof 2019/2021 scorer with
// bona fide = real scored 1 - P(fake). A metric that is undefined on the data is a Metric
// without a value and with a reason, never an exception.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dfscan::eval {

// A value, or the reason it is undefined.
struct Metric {
  std::optional<double> value;
  std::string reason;  // set exactly when value is empty

  static Metric of(double v) { return Metric{v, {}}; }
  static Metric undefined(std::string why) { return Metric{std::nullopt, std::move(why)}; }
  bool defined() const { return value.has_value(); }
};

// Labelled scores. Throws dfscan::Error when sizes differ, a label is not 0/1 or a score is not finite.
void validate_samples(const std::vector<int>& labels, const std::vector<double>& scores);

// ROC AUC as sklearn.metrics.roc_auc_score: trapezoid over the ROC curve at distinct thresholds
// (collinear points dropped, as sklearn does).
Metric roc_auc(const std::vector<int>& labels, const std::vector<double>& scores);

// Average precision as sklearn.metrics.average_precision_score: sum over distinct thresholds of
// (R_n - R_{n-1}) * P_n, no interpolation. Undefined unless both classes are present.
Metric average_precision(const std::vector<int>& labels, const std::vector<double>& scores);

// Mean natural-log loss with P(fake) clipped to [1e-15, 1 - 1e-15] (DFDC).
inline constexpr double kLogLossEpsilon = 1e-15;
Metric log_loss(const std::vector<int>& labels, const std::vector<double>& scores);

struct EqualErrorRate {
  Metric eer;        // fraction in [0, 1]
  Metric threshold;  // on the P(fake) scale: 1 - the scorer's bona fide threshold
};
// ASVspoof compute_eer: bona fide (real) scores 1 - P(fake), stable ascending sort with bona fide
// first among ties, FRR/FAR with the leading (0, 1) point, EER = mean(FRR, FAR) at the first
// argmin |FRR - FAR|.
EqualErrorRate equal_error_rate(const std::vector<int>& labels, const std::vector<double>& scores);

// Counts at a threshold: score >= threshold is called fake.
struct Confusion {
  std::size_t tp = 0;  // fake called fake
  std::size_t fp = 0;  // real called fake
  std::size_t tn = 0;  // real called real
  std::size_t fn = 0;  // fake called real
};
Confusion confusion_at(const std::vector<int>& labels, const std::vector<double>& scores, double threshold);
Metric accuracy(const Confusion& c);           // undefined with no samples
Metric balanced_accuracy(const Confusion& c);  // (TPR + TNR) / 2; undefined unless both classes

// The highest TPR among ROC points (distinct thresholds, plus the (0, 0) start) whose
// FPR <= max_fpr; `threshold` is the score cut-off of that point (undefined at the (0, 0) start,
// which flags nothing).
struct TprAtFpr {
  Metric tpr;
  Metric threshold;
};
TprAtFpr tpr_at_fpr(const std::vector<int>& labels, const std::vector<double>& scores, double max_fpr);

// Percentile bootstrap. Stratified (the default) resamples fakes and reals separately, keeping both
// class counts, so AUC/AP/EER are defined in every resample; unstratified resamples all samples
// together and skips (and counts) resamples where a metric is undefined.
struct BootstrapOptions {
  int resamples = 1000;  // 0 disables intervals
  std::uint64_t seed = 0;
  bool stratified = true;
  double confidence = 0.95;
};

struct Interval {
  Metric low;
  Metric high;
  int used = 0;     // resamples where the metric was defined
  int skipped = 0;  // resamples where it was not
};

struct EvalOptions {
  double threshold = 0.5;
  double max_fpr = 0.01;  // for tpr_at_fpr
  BootstrapOptions bootstrap;
};

struct Report {
  std::size_t n = 0, n_fake = 0, n_real = 0;
  double threshold = 0.5;
  Metric auc, ap, eer, eer_threshold, log_loss, accuracy, balanced_accuracy, tpr_at_fpr, tpr_at_fpr_threshold;
  Confusion confusion;
  // Keys "auc", "ap", "eer", "accuracy" when bootstrap.resamples > 0.
  std::map<std::string, Interval> intervals;
};

// All metrics at once (with intervals when options.bootstrap.resamples > 0).
Report evaluate(const std::vector<int>& labels, const std::vector<double>& scores,
                const EvalOptions& options);

// Bootstrap intervals for "auc", "ap", "eer" and "accuracy" (at options.threshold).
std::map<std::string, Interval> bootstrap_intervals(const std::vector<int>& labels,
                                                    const std::vector<double>& scores,
                                                    const EvalOptions& options);

struct GroupReports {
  std::vector<std::pair<std::string, Report>> groups;  // sorted by group name
  Metric auc_gap;                                      // best minus worst defined group AUC
  std::string best_group, worst_group;                 // empty when auc_gap is undefined
};

// Metrics per group (group[i] names sample i's group); the AUC gap needs two groups with a defined AUC.
GroupReports evaluate_by_group(const std::vector<int>& labels, const std::vector<double>& scores,
                               const std::vector<std::string>& groups, const EvalOptions& options);

// A score file: CSV with a header naming at least path, label and score (any order; extra columns
// are group attributes). label: fake/real (any case) or 1/0; score: P(fake) in [0, 1].
struct ScoreTable {
  std::vector<std::string> paths;
  std::vector<int> labels;
  std::vector<double> scores;
  std::vector<std::string> extra_columns;              // header names beyond path/label/score
  std::vector<std::vector<std::string>> extra_values;  // [row][extra column]
  std::size_t duplicates_dropped = 0;                  // identical rows seen in more than one place
};

// Reads and appends score files (shards of one evaluation). A path seen again with the same label and
// score is dropped and counted; with a different label or score it is an error. Throws dfscan::Error
// with a one-line message naming file and line for a malformed row, and when extra columns differ
// between files.
ScoreTable read_score_files(const std::vector<std::string>& files);

// The values of one extra column, or throws dfscan::Error naming the available columns.
std::vector<std::string> column_values(const ScoreTable& table, const std::string& column);

}  // namespace dfscan::eval
