// `dfscan eval`: metrics of labelled scores (CONVENTIONS.md "Metrics").
//   dfscan eval --scores FILE.csv...                 scores from any tool (several files = shards)
//   dfscan eval --dataset NAME --root DIR -m MODEL   scores a dataset through the scan pipeline
//   dfscan eval merge SHARD.csv...                   the shards of a --dataset --shard I/N run
// All three compute the same document (schema dfscan.eval/1), print it as a table or JSON, and with
// --report DIR save report.json and a self-contained report.html.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "checks.hpp"
#include "cmd_eval_dataset.hpp"
#include "command.hpp"
#include "config_file.hpp"
#include "dfscan/atomic_file.hpp"
#include "dfscan/benchmarks.hpp"
#include "dfscan/dataset.hpp"
#include "dfscan/json_text.hpp"
#include "dfscan/metrics.hpp"
#include "dfscan/report.hpp"
#include "dfscan/runtime.hpp"
#include "dfscan/status.hpp"
#include "exit_codes.hpp"
#include "interrupt.hpp"
#include "output.hpp"

namespace dfscan::cli {
namespace {

using eval::Metric;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

// Options shared by the three forms: how to turn scores into metrics and where to put them.
struct MetricArgs {
  double threshold = -1;  // < 0: the threshold the scan used (if one), else 0.5
  std::string format = "text";
  int bootstrap = 1000;
  std::uint64_t seed = 0;
  bool no_stratify = false;
  std::vector<std::string> group_by;  // empty: every group column (see group_columns)
  std::string video_key;              // empty: "video" or "sequence" when present
  std::string asv_scores;
  std::string tdcf = "auto";  // auto, 2019 or 2021
  std::vector<double> c012;   // the 2021 package's pre-computed C0, C1, C2
  std::string report_dir;
};

struct EvalArgs {
  MetricArgs metrics;
  std::vector<std::string> score_files;
  DatasetEvalArgs dataset;
  std::string output;
  int threads = 0;
  std::vector<std::string> merge_files;
};

constexpr std::size_t kMaxListedUnscored = 100;
constexpr std::size_t kMaxAutoGroups = 50;

// ---- text -------------------------------------------------------------------------------------

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string value_text(const Metric& m) {
  return m.defined() ? fixed(*m.value, 6) : "n/a (" + m.reason + ")";
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

void print_text_report(std::ostream& os, const eval::Report& r) {
  struct Row {
    std::string key;
    Metric metric;
  };
  std::vector<Row> rows = {{"auc", r.auc},
                           {"ap", r.ap},
                           {"eer", r.eer},
                           {"eer_threshold", r.eer_threshold},
                           {"log_loss", r.log_loss},
                           {"accuracy", r.accuracy},
                           {"balanced_accuracy", r.balanced_accuracy},
                           {"tpr_at_fpr_1pct", r.tpr_at_fpr},
                           {"tpr_at_fpr_1pct_threshold", r.tpr_at_fpr_threshold}};
  if (r.tdcf) {
    rows.push_back(
        {r.tdcf->edition == eval::TdcfEdition::asvspoof2019 ? "min_tdcf (2019)" : "min_tdcf (2021)",
         r.tdcf->min_tdcf});
    rows.push_back({"min_tdcf_threshold", r.tdcf->threshold});
    rows.push_back({"asv_eer", r.tdcf->asv_eer});
  }
  const std::size_t key_width = 27, value_width = 12;
  os << pad("metric", key_width) << (r.intervals.empty() ? "value" : pad("value", value_width) + "95% CI")
     << "\n";
  for (const auto& row : rows) {
    os << pad(row.key, key_width);
    auto it = r.intervals.find(row.key);
    if (it == r.intervals.end() || !row.metric.defined()) {
      os << value_text(row.metric);
    } else {
      os << pad(value_text(row.metric), value_width);
      const auto& ci = it->second;
      if (ci.low.defined())
        os << "[" << fixed(*ci.low.value, 4) << ", " << fixed(*ci.high.value, 4) << "]";
      else
        os << "n/a (" << ci.low.reason << ")";
      if (ci.skipped > 0) os << "  (" << ci.skipped << " resamples skipped)";
    }
    os << "\n";
  }
  os << pad("confusion", key_width) << "tp " << r.confusion.tp << "  fp " << r.confusion.fp << "  tn "
     << r.confusion.tn << "  fn " << r.confusion.fn << "\n";
}

std::string short_value(const Metric& m) {
  return m.defined() ? fixed(*m.value, 4) : std::string("n/a");
}

void print_text_levels(std::ostream& os, const std::vector<std::pair<std::string, eval::Report>>& levels) {
  os << "\n"
     << pad("level", 8) << pad("n", 8) << pad("fake", 7) << pad("real", 7) << pad("auc", 9) << pad("ap", 9)
     << pad("eer", 9) << pad("acc", 9) << pad("bal_acc", 9) << pad("log_loss", 10) << "tpr@1%fpr\n";
  for (const auto& [name, r] : levels)
    os << pad(name, 8) << pad(std::to_string(r.n), 8) << pad(std::to_string(r.n_fake), 7)
       << pad(std::to_string(r.n_real), 7) << pad(short_value(r.auc), 9) << pad(short_value(r.ap), 9)
       << pad(short_value(r.eer), 9) << pad(short_value(r.accuracy), 9)
       << pad(short_value(r.balanced_accuracy), 9) << pad(short_value(r.log_loss), 10)
       << short_value(r.tpr_at_fpr) << "\n";
}

void print_text_groups(std::ostream& os, const std::string& column, const eval::GroupReports& g) {
  std::size_t name_width = column.size();
  for (const auto& group : g.groups) name_width = std::max(name_width, group.name.size());
  name_width += 2;
  os << "\n"
     << pad(column, name_width) << pad("n", 8) << pad("fake", 8) << pad("real", 8) << pad("auc", 12)
     << pad("eer", 12) << pad("accuracy", 12) << "reals\n";
  auto value6 = [](const Metric& m) { return m.defined() ? fixed(*m.value, 6) : std::string("n/a"); };
  for (const auto& group : g.groups) {
    const auto& r = group.report;
    os << pad(group.name, name_width) << pad(std::to_string(r.n), 8) << pad(std::to_string(r.n_fake), 8)
       << pad(std::to_string(r.n_real), 8) << pad(value6(r.auc), 12) << pad(value6(r.eer), 12)
       << pad(value6(r.accuracy), 12) << (group.vs_all_reals ? "all" : "own") << "\n";
  }
  if (g.auc_gap.defined())
    os << "auc gap " << fixed(*g.auc_gap.value, 6) << " (best " << g.best_group << ", worst " << g.worst_group
       << ")\n";
  else
    os << "auc gap n/a (" << g.auc_gap.reason << ")\n";
}

// ---- the evaluation ---------------------------------------------------------------------------

// Columns to break down by: the ones named, else every group column except per-video ids, columns
// with a single value, and columns with more distinct values than a table can show.
std::vector<std::string> group_columns(const eval::ScoreTable& table, const MetricArgs& m,
                                       const std::string& video_key, std::vector<std::string>& skipped) {
  if (!m.group_by.empty()) {
    for (const auto& c : m.group_by) eval::column_values(table, c);  // throws for an unknown column
    return m.group_by;
  }
  static const std::set<std::string> never = {"video", "sequence", "track", "frame", "split"};
  std::vector<std::string> out;
  for (const auto& c : table.extra_columns) {
    if (c == video_key || never.count(c)) continue;
    const auto values = eval::column_values(table, c);
    const std::set<std::string> distinct(values.begin(), values.end());
    if (distinct.size() < 2) continue;  // one value: the breakdown would repeat the overall numbers
    if (distinct.size() > kMaxAutoGroups || (values.size() > 10 && distinct.size() == values.size())) {
      skipped.push_back(c);
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string pick_video_key(const eval::ScoreTable& table, const MetricArgs& m) {
  if (!m.video_key.empty()) {
    eval::column_values(table, m.video_key);  // throws for an unknown column
    return m.video_key;
  }
  for (const char* c : {"video", "sequence"})
    for (const auto& have : table.extra_columns)
      if (have == c) return c;
  return "";
}

struct Evaluation {
  json doc;
  eval::Report file_report;
  std::vector<std::pair<std::string, eval::Report>> levels;
  std::vector<std::pair<std::string, eval::GroupReports>> groups;
  std::string header;
  int exit_code = kExitOk;
};

// --tdcf: the formula of the scores' own evaluation (CONVENTIONS: 2019 for ASVspoof 2019 LA, 2021
// for 2021 LA), told by the source column `dfscan eval --dataset asvspoof2021` writes; given C012
// are 2021's by definition; 2019 otherwise.
eval::TdcfEdition tdcf_edition(const MetricArgs& m, const eval::ScoreTable& table) {
  if (m.tdcf == "2019") return eval::TdcfEdition::asvspoof2019;
  if (m.tdcf == "2021" || !m.c012.empty()) return eval::TdcfEdition::asvspoof2021;
  const auto& columns = table.extra_columns;
  if (table.labels.empty() || std::find(columns.begin(), columns.end(), "source") == columns.end())
    return eval::TdcfEdition::asvspoof2019;
  for (const auto& source : eval::column_values(table, "source"))
    if (source.rfind("asvspoof2021", 0) != 0) return eval::TdcfEdition::asvspoof2019;
  return eval::TdcfEdition::asvspoof2021;
}

Evaluation evaluate_table(const eval::ScoreTable& table, const MetricArgs& m, json config, json inputs) {
  Evaluation ev;

  // Threshold: -t, else the one the scan used (when every file agrees), else 0.5.
  eval::EvalOptions options;
  std::string threshold_source = "default";
  options.threshold = 0.5;
  if (m.threshold >= 0) {
    options.threshold = m.threshold;
    threshold_source = "--threshold";
  } else if (!table.thresholds.empty()) {
    const std::set<double> used(table.thresholds.begin(), table.thresholds.end());
    if (used.size() == 1 && !std::isnan(*used.begin())) {
      options.threshold = *used.begin();
      threshold_source = "model";
    }
  }
  options.bootstrap.resamples = m.bootstrap;
  options.bootstrap.seed = m.seed;
  options.bootstrap.stratified = !m.no_stratify;
  if (!m.asv_scores.empty()) options.asv = eval::read_asv_scores(m.asv_scores);
  if (!m.c012.empty()) options.c012 = eval::TdcfCoefficients{m.c012[0], m.c012[1], m.c012[2]};
  options.tdcf_edition = tdcf_edition(m, table);

  // Levels: per file (the scores as given), per frame (each face crop), per video (mean per video id).
  ev.file_report = eval::evaluate(table.labels, table.scores, options);
  ev.levels.emplace_back("file", ev.file_report);
  std::vector<std::string> notes;
  std::vector<int> frame_labels;
  std::vector<double> frame_scores;
  if (table.has_frame_scores) {
    for (std::size_t i = 0; i < table.labels.size(); ++i) {
      const auto& frames = table.frame_scores[i];
      if (frames.empty()) {  // no crops (whole-image models): the file is its one frame
        frame_labels.push_back(table.labels[i]);
        frame_scores.push_back(table.scores[i]);
      }
      for (double s : frames) {
        frame_labels.push_back(table.labels[i]);
        frame_scores.push_back(s);
      }
    }
    ev.levels.emplace_back("frame", eval::evaluate(frame_labels, frame_scores, options));
    notes.push_back("frame level: one sample per face crop (mean over face models)");
  }
  const std::string video_key = pick_video_key(table, m);
  std::optional<eval::Aggregated> videos;
  if (!video_key.empty()) {
    videos = eval::mean_by_key(table.labels, table.scores, eval::column_values(table, video_key));
    ev.levels.emplace_back("video", eval::evaluate(videos->labels, videos->scores, options));
    notes.push_back("video level: mean file score per '" + video_key + "'");
  } else if (!table.modalities.empty()) {
    bool all_videos = !table.modalities.empty();
    for (const auto& mod : table.modalities) all_videos = all_videos && mod.rfind("video", 0) == 0;
    if (all_videos) {
      ev.levels.emplace_back("video", ev.file_report);
      notes.push_back("video level: the scan's per-file score");
    } else {
      notes.push_back(
          "no video level: the files are not all videos and no video column was given (--video-key)");
    }
  }

  std::vector<std::string> skipped;
  for (const auto& column : group_columns(table, m, video_key, skipped)) {
    auto values = eval::column_values(table, column);
    for (auto& v : values)
      if (v.empty()) v = "(unset)";
    ev.groups.emplace_back(column, eval::evaluate_by_group(table.labels, table.scores, values, options));
  }

  // Statuses: scored files are "ok"; the others are counted and listed, never scored.
  std::map<std::string, std::size_t> statuses;
  if (!table.labels.empty()) statuses["ok"] = table.labels.size();
  for (const auto& u : table.unscored) {
    ++statuses[u.status];
    if (is_failure(status_from_string(u.status).value_or(Status::error))) ev.exit_code = kExitFailure;
  }

  json& doc = ev.doc;
  doc["schema"] = "dfscan.eval/1";
  doc["inputs"] = inputs;
  doc["scored_by"] = table.scored_by.empty() ? json(nullptr) : json(table.scored_by);
  doc["duplicates_dropped"] = table.duplicates_dropped;
  doc.update(eval::report_json(ev.file_report));
  doc["threshold_source"] = threshold_source;
  doc["bootstrap"] = {{"resamples", m.bootstrap},
                      {"seed", m.seed},
                      {"stratified", !m.no_stratify},
                      {"confidence", options.bootstrap.confidence}};
  json levels = json::object();
  for (const auto& [name, r] : ev.levels) levels[name] = eval::report_json(r);
  doc["levels"] = levels;
  doc["levels_note"] = [&] {
    std::string s;
    for (const auto& n : notes) s += (s.empty() ? "" : "; ") + n;
    return s;
  }();
  doc["video_key"] = video_key.empty() ? json(nullptr) : json(video_key);
  json groups = json::object();
  for (const auto& [column, g] : ev.groups) groups[column] = eval::group_reports_json(g);
  doc["groups"] = groups;
  if (!skipped.empty()) doc["groups_skipped"] = skipped;
  doc["statuses"] = statuses;
  json unscored = {{"count", table.unscored.size()}, {"files", json::array()}};
  for (std::size_t i = 0; i < table.unscored.size() && i < kMaxListedUnscored; ++i) {
    const auto& u = table.unscored[i];
    unscored["files"].push_back(
        {{"path", u.path}, {"label", u.label ? "fake" : "real"}, {"status", u.status}, {"error", u.error}});
  }
  doc["unscored"] = unscored;
  if (!config.is_null()) doc["config"] = std::move(config);

  std::ostringstream header;
  header << ev.file_report.n << " scored files (" << ev.file_report.n_fake << " fake, "
         << ev.file_report.n_real << " real)";
  if (!table.unscored.empty()) {
    header << ", " << table.unscored.size() << " not scored (";
    bool first = true;
    for (const auto& [s, n] : statuses)
      if (s != "ok") {
        header << (first ? "" : ", ") << n << " " << s;
        first = false;
      }
    header << "; left out, not scored as 0.5)";
  }
  if (table.duplicates_dropped) header << ", " << table.duplicates_dropped << " repeated rows dropped";
  header << "; threshold " << options.threshold << " (" << threshold_source << ")";
  if (m.bootstrap > 0)
    header << "; " << m.bootstrap << (options.bootstrap.stratified ? " stratified" : "")
           << " bootstrap resamples, seed " << m.seed;
  if (!table.scored_by.empty()) header << "\nscored by " << table.scored_by;
  ev.header = header.str();

  // Plot data only goes to report.json, not to stdout: it is large and only the HTML needs it.
  if (!m.report_dir.empty()) {
    json plots = json::object();
    plots["file"] = eval::plot_json(table.labels, table.scores);
    if (table.has_frame_scores) plots["frame"] = eval::plot_json(frame_labels, frame_scores);
    if (videos) plots["video"] = eval::plot_json(videos->labels, videos->scores);
    json with_plots = doc;
    with_plots["plots"] = plots;
    fs::create_directories(m.report_dir);
    write_file_atomic(fs::path(m.report_dir) / "report.json", json_text(with_plots, 2) + "\n");
    write_file_atomic(fs::path(m.report_dir) / "report.html", eval::render_html_report(with_plots));
  }
  return ev;
}

int print_evaluation(const Evaluation& ev, const MetricArgs& m, const eval::ScoreTable& table) {
  if (m.format == "json") {
    std::cout << json_text(ev.doc, 2) << "\n";
  } else {
    std::cout << ev.header << "\n\n";
    print_text_report(std::cout, ev.file_report);
    if (ev.levels.size() > 1) print_text_levels(std::cout, ev.levels);
    for (const auto& [column, g] : ev.groups) print_text_groups(std::cout, column, g);
    if (!table.unscored.empty()) {
      std::cout << "\nnot scored:\n";
      for (std::size_t i = 0; i < table.unscored.size() && i < 20; ++i) {
        const auto& u = table.unscored[i];
        std::cout << "  " << u.path << "\t" << u.status << (u.error.empty() ? "" : "\t" + u.error) << "\n";
      }
      if (table.unscored.size() > 20) std::cout << "  ... and " << table.unscored.size() - 20 << " more\n";
    }
  }
  if (!m.report_dir.empty()) std::cerr << "dfscan: report written to " << m.report_dir << "/report.html\n";
  return std::cout.good() ? ev.exit_code : kExitFailure;
}

// Option clashes the parser cannot see, refused before any work (scoring a dataset takes hours).
void check_metric_args(const MetricArgs& m) {
  if (!m.c012.empty() && m.tdcf == "2019")
    throw CLI::ValidationError("--c012", "C0, C1 and C2 are the 2021 formula's weights; drop --tdcf 2019");
  if (!m.report_dir.empty()) check_writable(m.report_dir, /*is_folder=*/true, "--report");
}

int run_eval(EvalArgs& a) {
  check_metric_args(a.metrics);
  const bool by_dataset = !a.dataset.dataset.empty();
  if (by_dataset == !a.score_files.empty())
    throw CLI::ValidationError("--scores/--dataset",
                               "give either --scores FILE.csv... or --dataset NAME --root DIR");
  if (by_dataset) {
    if (a.dataset.root.empty()) throw CLI::ValidationError("--root", "--dataset needs --root DIR (or CSV)");
    if (!a.output.empty()) check_writable(a.output, /*is_folder=*/false, "-o");
    configure_threads(a.threads);
    const InterruptGuard interrupt;
    auto scored = score_dataset(a.dataset, &InterruptGuard::flag());
    if (InterruptGuard::requested()) {
      std::cerr << "dfscan: interrupted; no scores written\n";
      return kExitInterrupted;
    }
    if (!a.output.empty()) write_file_atomic(a.output, eval::score_table_csv(scored.table));
    const json inputs = a.output.empty() ? json::array() : json::array({a.output});
    auto ev = evaluate_table(scored.table, a.metrics, scored.config, inputs);
    return print_evaluation(ev, a.metrics, scored.table);
  }
  if (!a.dataset.shard.empty()) throw CLI::ValidationError("--shard", "--shard needs --dataset");
  const auto table = eval::read_score_files(a.score_files);
  if (table.labels.empty() && table.unscored.empty())
    throw Error(Status::empty, "no score rows in the given score file(s)");
  auto ev = evaluate_table(table, a.metrics, nullptr, a.score_files);
  return print_evaluation(ev, a.metrics, table);
}

int run_merge(const EvalArgs& a) {
  check_metric_args(a.metrics);
  auto table = eval::read_score_files(a.merge_files);
  if (table.labels.empty() && table.unscored.empty())
    throw Error(Status::empty, "no score rows in the given shard file(s)");
  eval::sort_by_path(table);  // the order the unsharded run computed in
  auto ev = evaluate_table(table, a.metrics, json{{"merged_shards", a.merge_files}}, a.merge_files);
  return print_evaluation(ev, a.metrics, table);
}

void add_metric_options(CLI::App& sub, MetricArgs& m) {
  sub.add_option("-t,--threshold", m.threshold,
                 "Score at or above which a sample is called fake (default: the model's, else 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  sub.add_option("-f,--format", m.format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  sub.add_option("--bootstrap", m.bootstrap, "Bootstrap resamples for 95% intervals (0: none)")
      ->check(kNonNegative)
      ->capture_default_str();
  sub.add_option("--seed", m.seed, "Bootstrap random seed")->capture_default_str();
  sub.add_flag("--no-stratify", m.no_stratify,
               "Resample all samples together instead of fakes and reals separately "
               "(resamples missing a class are skipped and counted)");
  sub.add_option("--group-by", m.group_by,
                 "Report metrics per value of these group columns (default: every group column with at most "
                 "50 values)")
      ->delimiter(',')
      ->allow_extra_args(false);
  sub.add_option("--video-key", m.video_key,
                 "Column naming each sample's video, for video-level metrics (default: video or sequence; "
                 "for a face-crop cache index use source)");
  sub.add_option("--asv-scores", m.asv_scores,
                 "ASV score file (SOURCE KEY SCORE, as ASVspoof 2019 LA ships it): also compute min t-DCF");
  sub.add_option(
         "--tdcf", m.tdcf,
         "min t-DCF formula: 2019, 2021, or auto (2021 for scores of asvspoof2021 data or with --c012, "
         "else 2019)")
      ->check(CLI::IsMember({"auto", "2019", "2021"}))
      ->capture_default_str();
  sub.add_option("--c012", m.c012,
                 "C0,C1,C2 of the 2021 formula (the ASVspoof 2021 package's pre-computed pooled weights): "
                 "min t-DCF without ASV scores")
      ->delimiter(',')
      ->expected(3);
  sub.add_option("--report", m.report_dir, "Write report.json and a self-contained report.html into DIR");
}

std::function<int()> add_eval(CLI::App& root) {
  auto a = std::make_shared<EvalArgs>();
  auto* sub = root.add_subcommand(
      "eval", "Metrics (AUC, AP, EER, log-loss, accuracy, t-DCF) of labelled scores, a dataset, or shards");
  sub->require_subcommand(0, 1);
  sub->add_option("--scores", a->score_files,
                  "CSV with header path,label,score[,group...]; label fake/real or 1/0, score = P(fake). "
                  "Several files (shards) are merged");
  auto& d = a->dataset;
  const CLI::Validator known_dataset(
      [](std::string& name) {
        std::string lower = name;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto names = data::benchmark_names();
        if (std::find(names.begin(), names.end(), lower) != names.end()) return std::string();
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        return "unknown dataset '" + name + "' (known: " + known + ")";
      },
      // In braces, as CLI::IsMember shows its choices: the help and the shell completion list them.
      [] {
        std::string list;
        for (const auto& n : data::benchmark_names()) list += (list.empty() ? "" : ",") + n;
        return "{" + list + "}";
      }());
  sub->add_option("--dataset", d.dataset,
                  "Score this dataset through the scan pipeline: folder, csv (also a face-crop cache "
                  "index.csv), ffpp, dfdc, celebdf, wilddeepfake, deepfaketimit, ...")
      ->check(known_dataset);
  sub->add_option("--root", d.root, "The dataset's folder (or CSV file for --dataset csv)");
  sub->add_option("--split", d.split, "Only this split: train, valid or test")
      ->check(CLI::Validator(
          [](std::string& name) {
            return data::split_from_string(name) ? std::string()
                                                 : "unknown split '" + name + "' (train, valid, test)";
          },
          "{train,valid,test}"));
  sub->add_option("--compression", d.compression, "FF++ compression: raw, c23 or c40")->capture_default_str();
  sub->add_option("--methods", d.methods, "FF++ manipulation methods (default: those present)")
      ->delimiter(',')
      ->allow_extra_args(false);
  sub->add_option("--dataset-version", d.version, "Dataset version (celebdf v1|v2, dfdc preview, ...)");
  sub->add_flag("--allow-missing", d.allow_missing,
                "Drop files the manifest names but the disk lacks (they are reported) instead of failing");
  sub->add_option("-m,--model", d.models,
                  "Model name or .safetensors path (repeatable; default: shipped models)")
      ->allow_extra_args(false);
  sub->add_option("--frames", d.frames, "Frames sampled per video (default: the model's)")
      ->check(kNonNegative);
  sub->add_option("--faces", d.faces,
                  "auto: face models see face crops; none: every model sees the whole image")
      ->check(CLI::IsMember({"auto", "none"}));
  sub->add_option("--aggregate", d.aggregate, "Per-file rule over face tracks: mean, max, genconvit-ref")
      ->check(CLI::IsMember({"mean", "max", "genconvit-ref"}));
  sub->add_option("--device", d.device, "auto, cpu, cuda or cuda:N")->check(kDevice);
  sub->add_option("--batch", d.batch, "Crops per forward pass")->check(kPositive);
  sub->add_option("--workers", d.workers, "Files decoded ahead of inference in parallel")->check(kPositive);
  sub->add_option("--threads", a->threads, "Intra-op threads (default: every CPU this process may use)")
      ->check(kNonNegative);
  sub->add_option("--shard", d.shard, "Score only shard I of N (I/N), by a stable hash of each path");
  sub->add_option("-o,--output", a->output,
                  "Write the per-file scores CSV (path,label,score,status,...,groups) here; the input of "
                  "`dfscan eval merge` and of --scores");
  sub->add_flag("--progress", d.progress, "Show progress on stderr even when it is not a terminal");
  add_metric_options(*sub, a->metrics);
  attach_environment_and_config(*sub, "eval");

  auto* merge = sub->add_subcommand("merge",
                                    "Merge the score CSVs of `dfscan eval --shard I/N -o FILE` runs "
                                    "and compute the metrics of the whole run");
  merge->add_option("files", a->merge_files, "Shard score files")->required();
  add_metric_options(*merge, a->metrics);

  return [a, merge] { return merge->parsed() ? run_merge(*a) : run_eval(*a); };
}

}  // namespace
DFSCAN_COMMAND("eval", add_eval);
}  // namespace dfscan::cli
