// The dfscan.eval/1 document pieces: metrics, per-group breakdowns and plot data.
#include <algorithm>
#include <cmath>
#include <limits>

#include "dfscan/report.hpp"
#include "dfscan/status.hpp"

namespace dfscan::eval {
namespace {

ordered_json number_or_null(const Metric& m) {
  return m.defined() ? ordered_json(*m.value) : ordered_json(nullptr);
}

void put_metric(ordered_json& out, ordered_json& reasons, const std::string& key, const Metric& m) {
  out[key] = number_or_null(m);
  if (!m.defined()) reasons[key] = m.reason;
}

// Every k-th point, always keeping the first and the last, so a curve stays cheap to draw.
template <typename T>
std::vector<T> thin(const std::vector<T>& v, std::size_t max_points) {
  if (v.size() <= max_points || max_points < 2) return v;
  std::vector<T> out;
  out.reserve(max_points);
  const double step = static_cast<double>(v.size() - 1) / static_cast<double>(max_points - 1);
  for (std::size_t k = 0; k < max_points; ++k)
    out.push_back(v[static_cast<std::size_t>(std::round(static_cast<double>(k) * step))]);
  return out;
}

}  // namespace

ordered_json report_json(const Report& r) {
  ordered_json out = ordered_json::object();
  ordered_json reasons = ordered_json::object();
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
  if (r.tdcf) {
    out["tdcf_edition"] = r.tdcf->edition == TdcfEdition::asvspoof2019 ? 2019 : 2021;
    put_metric(out, reasons, "min_tdcf", r.tdcf->min_tdcf);
    put_metric(out, reasons, "min_tdcf_threshold", r.tdcf->threshold);
    put_metric(out, reasons, "asv_eer", r.tdcf->asv_eer);
    put_metric(out, reasons, "asv_threshold", r.tdcf->asv_threshold);
  }
  out["confusion"] = {
      {"tp", r.confusion.tp}, {"fp", r.confusion.fp}, {"tn", r.confusion.tn}, {"fn", r.confusion.fn}};
  if (r.intervals.empty()) {
    out["ci95"] = nullptr;
  } else {
    ordered_json ci = ordered_json::object();
    for (const auto& [key, interval] : r.intervals) {
      ordered_json entry = {{"low", number_or_null(interval.low)},
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

ordered_json group_reports_json(const GroupReports& g) {
  ordered_json by_group = ordered_json::object();
  for (const auto& group : g.groups) {
    auto entry = report_json(group.report);
    entry["vs_all_reals"] = group.vs_all_reals;
    by_group[group.name] = std::move(entry);
  }
  ordered_json out = {
      {"auc_gap", number_or_null(g.auc_gap)},
      {"auc_best_group", g.auc_gap.defined() ? ordered_json(g.best_group) : ordered_json(nullptr)},
      {"auc_worst_group", g.auc_gap.defined() ? ordered_json(g.worst_group) : ordered_json(nullptr)},
      {"by_group", by_group}};
  if (!g.auc_gap.defined()) out["reasons"] = {{"auc_gap", g.auc_gap.reason}};
  return out;
}

ordered_json plot_json(const std::vector<int>& labels, const std::vector<double>& scores, int bins,
                       std::size_t max_points) {
  if (bins < 1) throw Error(Status::error, "a histogram needs at least one bin");
  const auto roc = roc_curve(labels, scores);
  std::vector<std::pair<double, double>> points;
  for (std::size_t i = 0; i < roc.fpr.size(); ++i) points.emplace_back(roc.fpr[i], roc.tpr[i]);
  points = thin(points, max_points);
  ordered_json fpr = ordered_json::array(), tpr = ordered_json::array(), fnr = ordered_json::array();
  for (const auto& [x, y] : points) {
    fpr.push_back(x);
    tpr.push_back(y);
    fnr.push_back(1.0 - y);
  }
  // Fraction of each class per score bin: [k/bins, (k+1)/bins), the last bin closed at 1.
  std::vector<double> fake(static_cast<std::size_t>(bins)), real(static_cast<std::size_t>(bins));
  std::size_t n_fake = 0, n_real = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto k = std::min<std::size_t>(static_cast<std::size_t>(std::max(0.0, scores[i]) * bins),
                                         static_cast<std::size_t>(bins - 1));
    (labels[i] ? fake : real)[k] += 1;
    (labels[i] ? n_fake : n_real) += 1;
  }
  for (auto& v : fake) v = n_fake ? v / static_cast<double>(n_fake) : 0.0;
  for (auto& v : real) v = n_real ? v / static_cast<double>(n_real) : 0.0;
  return {{"roc", {{"fpr", fpr}, {"tpr", tpr}}},
          {"det", {{"fpr", fpr}, {"fnr", fnr}}},
          {"histogram",
           {{"bins", bins}, {"fake", fake}, {"real", real}, {"n_fake", n_fake}, {"n_real", n_real}}}};
}

double probit(double p) {
  if (!(p > 0 && p < 1)) throw Error(Status::error, "probit needs p in (0, 1)");
  // The upper half by symmetry: 1 - p is exact there, and erfc keeps its precision in the lower tail.
  if (p > 0.5) return -probit(1.0 - p);
  // Acklam's rational approximation (relative error < 1.2e-9), then one Halley step on erfc.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double low = 0.02425;
  double x;
  if (p < low) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

}  // namespace dfscan::eval
