#pragma once
// Evaluation documents (schema dfscan.eval/1) and the self-contained HTML report drawn from them.
// Torch-free. The JSON is what `dfscan eval --format json` prints and `--report DIR` saves as
// report.json; the HTML is rendered from that same document, so both always agree.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dfscan/metrics.hpp"

namespace dfscan::eval {

using ordered_json = nlohmann::ordered_json;

// One Report: counts, threshold, then every metric under a lower-case key, each a number or null
// (a null has its reason under "reasons"), the confusion counts and "ci95" (null without bootstrap).
ordered_json report_json(const Report& report);

// The per-group breakdown of one attribute column: auc_gap (best minus worst group AUC), the best
// and worst group, and by_group (report_json plus "vs_all_reals").
ordered_json group_reports_json(const GroupReports& groups);

// ROC points (FPR, TPR), DET points (FPR, FNR) and per-class score histograms of one set of
// labelled scores, thinned to at most `max_points` points per curve for drawing.
ordered_json plot_json(const std::vector<int>& labels, const std::vector<double>& scores, int bins = 20,
                       std::size_t max_points = 2000);

// The inverse of the standard normal CDF (the DET plot's axis scale), p in (0, 1).
double probit(double p);

// One HTML document with inline CSS and inline SVG only: no script, no network reference, no
// external font. Reads the document's metrics, "levels", "groups", "plots", "unscored" and "config".
std::string render_html_report(const ordered_json& doc);

}  // namespace dfscan::eval
