// `dfscan eval --scores FILE.csv...`: metrics of labelled scores (CONVENTIONS.md "Metrics").
// Several score files are shards of one evaluation and are merged before any metric is computed.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "command.hpp"
#include "dfscan/metrics.hpp"
#include "dfscan/status.hpp"
#include "exit_codes.hpp"

namespace dfscan::cli {
namespace {

using eval::Metric;
using json = nlohmann::ordered_json;

struct EvalCliOptions {
  std::vector<std::string> score_files;
  double threshold = 0.5;
  std::string format = "text";
  int bootstrap = 1000;
  std::uint64_t seed = 0;
  bool no_stratify = false;
  std::string group_by;
};

// ---- JSON -------------------------------------------------------------------------------------

json number_or_null(const Metric& m) {
  return m.defined() ? json(*m.value) : json(nullptr);
}

void put_metric(json& out, json& reasons, const std::string& key, const Metric& m) {
  out[key] = number_or_null(m);
  if (!m.defined()) reasons[key] = m.reason;
}

json report_json(const eval::Report& r) {
  json out = json::object();
  json reasons = json::object();
  out["n"] = r.n;
  out["n_fake"] = r.n_fake;
  out["n_real"] = r.n_real;
  out["threshold"] = r.threshold;
  put_metric(out, reasons, "auc", r.auc);
  put_metric(out, reasons, "ap", r.ap);
  put_metric(out, reasons, "eer", r.eer);
  put_metric(out, reasons, "eer_threshold", r.eer_threshold);
  put_metric(out, reasons, "log_loss", r.log_loss);
  put_metric(out, reasons, "accuracy", r.accuracy);
  put_metric(out, reasons, "balanced_accuracy", r.balanced_accuracy);
  put_metric(out, reasons, "tpr_at_fpr_1pct", r.tpr_at_fpr);
  put_metric(out, reasons, "tpr_at_fpr_1pct_threshold", r.tpr_at_fpr_threshold);
  out["confusion"] = {
      {"tp", r.confusion.tp}, {"fp", r.confusion.fp}, {"tn", r.confusion.tn}, {"fn", r.confusion.fn}};
  if (r.intervals.empty()) {
    out["ci95"] = nullptr;
  } else {
    json ci = json::object();
    for (const auto& [key, interval] : r.intervals) {
      json entry = {{"low", number_or_null(interval.low)},
                    {"high", number_or_null(interval.high)},
                    {"resamples_used", interval.used},
                    {"resamples_skipped", interval.skipped}};
      if (!interval.low.defined()) entry["reason"] = interval.low.reason;
      ci[key] = entry;
    }
    out["ci95"] = ci;
  }
  out["reasons"] = reasons;
  return out;
}

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
    const char* key;
    const Metric& metric;
  };
  const Row rows[] = {{"auc", r.auc},
                      {"ap", r.ap},
                      {"eer", r.eer},
                      {"eer_threshold", r.eer_threshold},
                      {"log_loss", r.log_loss},
                      {"accuracy", r.accuracy},
                      {"balanced_accuracy", r.balanced_accuracy},
                      {"tpr_at_fpr_1pct", r.tpr_at_fpr},
                      {"tpr_at_fpr_1pct_threshold", r.tpr_at_fpr_threshold}};
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

void print_text_groups(std::ostream& os, const std::string& column, const eval::GroupReports& g) {
  std::size_t name_width = column.size();
  for (const auto& [name, report] : g.groups) name_width = std::max(name_width, name.size());
  name_width += 2;
  os << "\n"
     << pad(column, name_width) << pad("n", 8) << pad("fake", 8) << pad("real", 8) << pad("auc", 12)
     << pad("eer", 12) << "accuracy\n";
  auto short_value = [](const Metric& m) { return m.defined() ? fixed(*m.value, 6) : std::string("n/a"); };
  for (const auto& [name, r] : g.groups)
    os << pad(name, name_width) << pad(std::to_string(r.n), 8) << pad(std::to_string(r.n_fake), 8)
       << pad(std::to_string(r.n_real), 8) << pad(short_value(r.auc), 12) << pad(short_value(r.eer), 12)
       << short_value(r.accuracy) << "\n";
  if (g.auc_gap.defined())
    os << "auc gap " << fixed(*g.auc_gap.value, 6) << " (best " << g.best_group << ", worst " << g.worst_group
       << ")\n";
  else
    os << "auc gap n/a (" << g.auc_gap.reason << ")\n";
}

// ---- command ----------------------------------------------------------------------------------

int run_eval(const EvalCliOptions& o) {
  if (o.score_files.empty()) {
    std::cerr << "dfscan eval: --scores FILE.csv is required\n";
    return kExitUsage;
  }
  const auto table = eval::read_score_files(o.score_files);
  if (table.labels.empty()) throw Error(Status::empty, "no score rows in the given score file(s)");

  eval::EvalOptions options;
  options.threshold = o.threshold;
  options.bootstrap.resamples = o.bootstrap;
  options.bootstrap.seed = o.seed;
  options.bootstrap.stratified = !o.no_stratify;

  std::vector<std::string> group_values;
  if (!o.group_by.empty()) group_values = eval::column_values(table, o.group_by);

  const auto report = eval::evaluate(table.labels, table.scores, options);
  std::optional<eval::GroupReports> groups;
  if (!o.group_by.empty())
    groups = eval::evaluate_by_group(table.labels, table.scores, group_values, options);

  if (o.format == "json") {
    json doc = {{"schema", "dfscan.eval/1"},
                {"inputs", o.score_files},
                {"duplicates_dropped", table.duplicates_dropped}};
    doc.update(report_json(report));
    doc["bootstrap"] = {{"resamples", o.bootstrap},
                        {"seed", o.seed},
                        {"stratified", !o.no_stratify},
                        {"confidence", options.bootstrap.confidence}};
    if (groups) {
      json by_group = json::object();
      for (const auto& [name, r] : groups->groups) by_group[name] = report_json(r);
      json g = {{"column", o.group_by},
                {"auc_gap", number_or_null(groups->auc_gap)},
                {"auc_best_group", groups->auc_gap.defined() ? json(groups->best_group) : json(nullptr)},
                {"auc_worst_group", groups->auc_gap.defined() ? json(groups->worst_group) : json(nullptr)},
                {"by_group", by_group}};
      if (!groups->auc_gap.defined()) g["reasons"] = {{"auc_gap", groups->auc_gap.reason}};
      doc["groups"] = g;
    }
    std::cout << doc.dump(2) << "\n";
  } else {
    std::ostringstream header;
    header << report.n << " samples (" << report.n_fake << " fake, " << report.n_real << " real) from "
           << o.score_files.size() << " file" << (o.score_files.size() == 1 ? "" : "s");
    if (table.duplicates_dropped) header << ", " << table.duplicates_dropped << " repeated rows dropped";
    header << "; threshold " << o.threshold;
    if (o.bootstrap > 0)
      header << "; " << o.bootstrap << (options.bootstrap.stratified ? " stratified" : "")
             << " bootstrap resamples, seed " << o.seed;
    std::cout << header.str() << "\n\n";
    print_text_report(std::cout, report);
    if (groups) print_text_groups(std::cout, o.group_by, *groups);
  }
  return std::cout.good() ? kExitOk : kExitFailure;
}

std::function<int()> add_eval(CLI::App& root) {
  auto o = std::make_shared<EvalCliOptions>();
  auto* sub = root.add_subcommand("eval", "Compute AUC, AP, EER, log-loss and accuracy from labelled scores");
  sub->add_option("--scores", o->score_files,
                  "CSV with header path,label,score[,group...]; label fake/real or 1/0, score = P(fake). "
                  "Several files (shards) are merged")
      ->envname("DFSCAN_SCORES");
  sub->add_option("-t,--threshold", o->threshold, "Score at or above which a sample is called fake")
      ->check(CLI::Range(0.0, 1.0))
      ->envname("DFSCAN_THRESHOLD")
      ->capture_default_str();
  sub->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->envname("DFSCAN_FORMAT")
      ->capture_default_str();
  sub->add_option("--bootstrap", o->bootstrap, "Bootstrap resamples for 95% intervals (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->envname("DFSCAN_BOOTSTRAP")
      ->capture_default_str();
  sub->add_option("--seed", o->seed, "Bootstrap random seed")->envname("DFSCAN_SEED")->capture_default_str();
  sub->add_flag("--no-stratify", o->no_stratify,
                "Resample all samples together instead of fakes and reals separately "
                "(resamples missing a class are skipped and counted)");
  sub->add_option("--group-by", o->group_by, "Also report metrics per value of this CSV column")
      ->envname("DFSCAN_GROUP_BY");
  return [o] { return run_eval(*o); };
}

}  // namespace
DFSCAN_COMMAND("eval", add_eval);
}  // namespace dfscan::cli
