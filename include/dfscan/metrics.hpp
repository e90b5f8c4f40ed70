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

// Scores of the organisers' ASV system (ASVspoof 2019 LA `*.asv.*.gi.trl.scores.txt`): target,
// non-target and spoof trials, higher = more likely the claimed speaker.
struct AsvScores {
  std::vector<double> target, nontarget, spoof;
};

// Reads an ASV score file: one trial per line, whitespace-separated, the key (target, nontarget or
// spoof) in the second field and the score in the last. Throws dfscan::Error naming file and line.
AsvScores read_asv_scores(const std::string& file);

// Which evaluation's t-DCF: the ASVspoof 2019 plan's (t-DCF v1) or the revised one ASVspoof 2021
// ranked by ("tDCF_python_v2"). Their values are not comparable.
enum class TdcfEdition { asvspoof2019, asvspoof2021 };

// The cost model of the ASVspoof 2019 evaluation plan (t-DCF v1).
struct TdcfCostModel {
  double p_spoof = 0.05;
  double p_target = (1 - 0.05) * 0.99;
  double p_nontarget = (1 - 0.05) * 0.01;
  double c_miss_asv = 1, c_fa_asv = 10;
  double c_miss_cm = 1, c_fa_cm = 10;
};

// The cost model of the ASVspoof 2021 evaluation package (costs of the tandem system's errors).
struct TdcfCostModel2021 {
  double p_spoof = 0.05;
  double p_target = (1 - 0.05) * 0.99;
  double p_nontarget = (1 - 0.05) * 0.01;
  double c_miss = 1, c_fa = 10, c_fa_spoof = 10;
};

// The 2021 t-DCF's weights: t-DCF(t) = C0 + C1 Pmiss_cm(t) + C2 Pfa_cm(t). The 2021 package ships
// them pre-computed per subset (`*-C012-*.npy`), so that a countermeasure needs no ASV scores.
struct TdcfCoefficients {
  double c0 = 0, c1 = 0, c2 = 0;
};

struct TandemDcf {
  TdcfEdition edition = TdcfEdition::asvspoof2019;
  Metric min_tdcf;       // normalised, minimum over every CM threshold of the DET curve
  Metric threshold;      // the CM threshold reaching it, on the P(fake) scale
  Metric asv_eer;        // EER of the ASV system (target vs non-target); undefined from given C012
  Metric asv_threshold;  // its EER threshold, the fixed ASV operating point
  double p_fa_asv = 0, p_miss_asv = 0, p_miss_spoof_asv = 0, p_fa_spoof_asv = 0;
  double c0 = 0, c1 = 0, c2 = 0;  // c0 stays 0 in the 2019 formula
};

// min t-DCF of the ASVspoof 2019 evaluation (t-DCF v1): the ASV operating point is the ASV system's
// own EER threshold; C1 = Ptar (Cmiss_cm - Cmiss_asv Pmiss_asv) - Pnon Cfa_asv Pfa_asv,
// C2 = Cfa_cm Pspoof (1 - Pmiss_spoof_asv); t-DCF(t) = (C1 Pmiss_cm(t) + C2 Pfa_cm(t)) / min(C1, C2)
// over the CM's DET curve (bona fide = real, scored 1 - P(fake)). Undefined (with a reason) when a
// class or ASV trial type is missing or a cost weight is negative.
TandemDcf min_tdcf_2019(const std::vector<int>& labels, const std::vector<double>& scores,
                        const AsvScores& asv, const TdcfCostModel& cost = {});

// min t-DCF of the ASVspoof 2021 evaluation, the ASV operating point as in 2019:
// C0 = Ptar Cmiss Pmiss_asv + Pnon Cfa Pfa_asv, C1 = Ptar Cmiss - C0, C2 = Pspoof Cfa_spoof Pfa_spoof_asv;
// t-DCF(t) = (C0 + C1 Pmiss_cm(t) + C2 Pfa_cm(t)) / (C0 + min(C1, C2)). Undefined as in 2019.
TandemDcf min_tdcf_2021(const std::vector<int>& labels, const std::vector<double>& scores,
                        const AsvScores& asv, const TdcfCostModel2021& cost = {});
// The same from given weights (the package's pre-computed C012 for the pooled condition).
TandemDcf min_tdcf_2021(const std::vector<int>& labels, const std::vector<double>& scores,
                        const TdcfCoefficients& c012);

struct EvalOptions {
  double threshold = 0.5;
  double max_fpr = 0.01;  // for tpr_at_fpr
  BootstrapOptions bootstrap;
  // min t-DCF, when `asv` or (2021 only) `c012` is set.
  TdcfEdition tdcf_edition = TdcfEdition::asvspoof2019;
  std::optional<AsvScores> asv;
  std::optional<TdcfCoefficients> c012;
};

struct Report {
  std::size_t n = 0, n_fake = 0, n_real = 0;
  double threshold = 0.5;
  Metric auc, ap, eer, eer_threshold, log_loss, accuracy, balanced_accuracy, tpr_at_fpr, tpr_at_fpr_threshold;
  Confusion confusion;
  std::optional<TandemDcf> tdcf;  // when EvalOptions::asv or c012 was given
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

struct GroupReport {
  std::string name;
  Report report;
  bool vs_all_reals = false;  // the group had no reals, so its fakes were scored against all reals
};

struct GroupReports {
  std::vector<GroupReport> groups;      // sorted by group name
  Metric auc_gap;                       // best minus worst defined group AUC
  std::string best_group, worst_group;  // empty when auc_gap is undefined
};

// Metrics per group (groups[i] names sample i's group). A group that holds reals is evaluated on its
// own samples (its fakes vs its reals: fairness attributes such as age or gender, or a source
// dataset). A group without reals (a manipulation method: FF++ "Deepfakes" has only fakes) is
// evaluated as its fakes vs ALL reals of the evaluation, the usual per-method protocol. A group with
// reals but no fakes has undefined ranking metrics. The AUC gap needs two groups with a defined AUC.
GroupReports evaluate_by_group(const std::vector<int>& labels, const std::vector<double>& scores,
                               const std::vector<std::string>& groups, const EvalOptions& options);

// Points of the ROC curve at every distinct threshold (descending), starting at (0, 0) with an
// infinite threshold; sklearn's roc_curve(drop_intermediate=False). Empty unless both classes exist.
struct RocCurve {
  std::vector<double> fpr, tpr, thresholds;
};
RocCurve roc_curve(const std::vector<int>& labels, const std::vector<double>& scores);

// Mean score per key (a video id): one sample per distinct key, in order of first appearance.
// Throws dfscan::Error when one key carries both labels.
struct Aggregated {
  std::vector<std::string> keys;
  std::vector<int> labels;
  std::vector<double> scores;
};
Aggregated mean_by_key(const std::vector<int>& labels, const std::vector<double>& scores,
                       const std::vector<std::string>& keys);

// A score file: CSV with a header naming at least path, label and score (any order; extra columns
// are group attributes). label: fake/real (any case) or 1/0; score: P(fake) in [0, 1]; with a status
// column the score of a row whose status is not "ok" is empty.
struct ScoreTable {
  std::vector<std::string> paths;
  std::vector<int> labels;
  std::vector<double> scores;
  std::vector<std::string> extra_columns;              // header names beyond path/label/score
  std::vector<std::vector<std::string>> extra_values;  // [row][extra column]
  std::size_t duplicates_dropped = 0;                  // identical rows seen in more than one place
  // Columns written by `dfscan eval --dataset` (absent from other tools' files):
  //   status        the scan status; rows other than "ok" are kept in `unscored`, never scored
  //   error         the one-line message of a failed file
  //   modality      video, image, ... of the file
  //   threshold     the decision threshold the scan used
  //   frame_scores  space-separated P(fake) of each face crop (the frame-level samples)
  //   scored_by     the models and settings that produced the scores, the same on every row
  std::vector<std::string> modalities;            // per scored row; empty without the column
  std::vector<double> thresholds;                 // per scored row; empty without the column
  std::vector<std::vector<double>> frame_scores;  // per scored row; empty without the column
  struct Unscored {
    std::string path;
    int label = 0;
    std::string status, error;
    std::vector<std::string> extra_values;
  };
  std::vector<Unscored> unscored;
  bool has_status = false, has_frame_scores = false;
  std::string scored_by;  // empty without the column
};

// Reads and appends score files (shards of one evaluation). A path seen again with the same label and
// score is dropped and counted; with a different label or score it is an error. Throws dfscan::Error
// with a one-line message naming file and line for a malformed row, when extra columns differ
// between files, and when rows name different `scored_by` runs (shards of two model sets or
// settings would evaluate as one).
ScoreTable read_score_files(const std::vector<std::string>& files);

// The values of one extra column, or throws dfscan::Error naming the available columns.
std::vector<std::string> column_values(const ScoreTable& table, const std::string& column);

// Sorts scored and unscored rows by path: the canonical order in which `dfscan eval` and
// `dfscan eval merge` compute metrics, so sharded and unsharded runs give bit-identical numbers.
void sort_by_path(ScoreTable& table);

// Writes a table in the layout read_score_files reads (every special column present, scores with
// 17 significant digits so that they read back exactly), scored and unscored rows in path order.
std::string score_table_csv(const ScoreTable& table);

}  // namespace dfscan::eval
