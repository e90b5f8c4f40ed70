// The HTML report: one file, inline CSS and SVG drawn here, nothing fetched, no script.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "dfscan/json_text.hpp"
#include "dfscan/report.hpp"

namespace dfscan::eval {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string value_text(const ordered_json& v, int decimals = 4) {
  if (v.is_number_integer()) return v.dump();  // counts
  if (v.is_number()) return num(v.get<double>(), decimals);
  if (v.is_null()) return "n/a";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

const char* level_colour(const std::string& level) {
  if (level == "frame") return "#d9730d";
  if (level == "video") return "#2b8a3e";
  return "#1c64b4";
}

// A square plotting area with a frame, grid and tick labels; maps data coordinates to pixels.
class Plot {
 public:
  Plot(std::string id, std::string title, std::string x_label, std::string y_label)
      : id_(std::move(id)),
        title_(std::move(title)),
        x_label_(std::move(x_label)),
        y_label_(std::move(y_label)) {}
  void set_range(double x0, double x1, double y0, double y1) { x0_ = x0, x1_ = x1, y0_ = y0, y1_ = y1; }
  double px(double x) const { return kLeft + (x - x0_) / (x1_ - x0_) * kInner; }
  double py(double y) const { return kTop + (1 - (y - y0_) / (y1_ - y0_)) * kInner; }
  void x_tick(double x, const std::string& label) {
    body_ << "<line class=\"grid\" x1=\"" << num(px(x), 1) << "\" y1=\"" << kTop << "\" x2=\""
          << num(px(x), 1) << "\" y2=\"" << kTop + kInner << "\"/><text class=\"tick\" x=\"" << num(px(x), 1)
          << "\" y=\"" << kTop + kInner + 14 << "\" text-anchor=\"middle\">" << escape(label) << "</text>";
  }
  void y_tick(double y, const std::string& label) {
    body_ << "<line class=\"grid\" x1=\"" << kLeft << "\" y1=\"" << num(py(y), 1) << "\" x2=\""
          << kLeft + kInner << "\" y2=\"" << num(py(y), 1) << "\"/><text class=\"tick\" x=\"" << kLeft - 5
          << "\" y=\"" << num(py(y) + 4, 1) << "\" text-anchor=\"end\">" << escape(label) << "</text>";
  }
  // A polyline through (xs[i], ys[i]) as an SVG path with the given element id.
  void line(const std::string& id, const std::vector<double>& xs, const std::vector<double>& ys,
            const std::string& colour, const std::string& extra = "") {
    std::ostringstream d;
    for (std::size_t i = 0; i < xs.size() && i < ys.size(); ++i)
      d << (i ? "L" : "M") << num(px(xs[i]), 2) << " " << num(py(ys[i]), 2);
    body_ << "<path id=\"" << escape(id) << "\" class=\"curve\" fill=\"none\" stroke=\"" << colour
          << "\" stroke-width=\"2\" " << extra << " d=\"" << d.str() << "\"/>";
  }
  void raw(const std::string& svg) { body_ << svg; }
  void legend(const std::vector<std::pair<std::string, std::string>>& entries) {
    double y = kTop + 8;
    for (const auto& [text, colour] : entries) {
      body_ << "<rect x=\"" << kLeft + kInner - 110 << "\" y=\"" << y
            << "\" width=\"12\" height=\"10\" fill=\"" << colour << "\"/><text class=\"tick\" x=\""
            << kLeft + kInner - 94 << "\" y=\"" << y + 9 << "\">" << escape(text) << "</text>";
      y += 15;
    }
  }
  std::string svg() const {
    std::ostringstream out;
    const int size = kLeft + kInner + kRight;
    out << "<figure><svg id=\"" << escape(id_) << "\" class=\"plot\" viewBox=\"0 0 " << size << " "
        << kTop + kInner + kBottom << "\" width=\"" << size << "\" height=\"" << kTop + kInner + kBottom
        << "\" role=\"img\" aria-label=\"" << escape(title_) << "\"><title>" << escape(title_) << "</title>"
        << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kInner << "\" height=\"" << kInner
        << "\" fill=\"#fff\" stroke=\"#444\"/>" << body_.str() << "<text class=\"axis\" x=\""
        << kLeft + kInner / 2 << "\" y=\"" << kTop + kInner + 32 << "\" text-anchor=\"middle\">"
        << escape(x_label_) << "</text>"
        << "<text class=\"axis\" transform=\"translate(14," << kTop + kInner / 2
        << ") rotate(-90)\" text-anchor=\"middle\">" << escape(y_label_) << "</text></svg><figcaption>"
        << escape(title_) << "</figcaption></figure>";
    return out.str();
  }

 private:
  static constexpr int kLeft = 52, kTop = 12, kInner = 300, kRight = 14, kBottom = 42;
  std::string id_, title_, x_label_, y_label_;
  double x0_ = 0, x1_ = 1, y0_ = 0, y1_ = 1;
  std::ostringstream body_;
};

std::vector<double> numbers(const ordered_json& array) {
  std::vector<double> out;
  for (const auto& v : array) out.push_back(v.get<double>());
  return out;
}

// The levels that have plot data, file level first.
std::vector<std::string> plotted_levels(const ordered_json& plots) {
  std::vector<std::string> out;
  for (const char* level : {"file", "frame", "video"})
    if (plots.contains(level) && !plots[level]["roc"]["fpr"].empty()) out.push_back(level);
  return out;
}

std::string roc_svg(const ordered_json& plots) {
  Plot p("roc-plot", "ROC curve (fake = positive)", "false positive rate (reals called fake)",
         "true positive rate (fakes caught)");
  for (double t = 0; t <= 1.0001; t += 0.2) {
    p.x_tick(t, num(t, 1));
    p.y_tick(t, num(t, 1));
  }
  p.line("roc-chance", {0, 1}, {0, 1}, "#999", "stroke-dasharray=\"4 4\"");
  std::vector<std::pair<std::string, std::string>> legend;
  for (const auto& level : plotted_levels(plots)) {
    const auto& roc = plots[level]["roc"];
    p.line("roc-curve-" + level, numbers(roc["fpr"]), numbers(roc["tpr"]), level_colour(level));
    legend.emplace_back(level + " level", level_colour(level));
  }
  p.legend(legend);
  return p.svg();
}

std::string det_svg(const ordered_json& plots) {
  // Probit (normal deviate) axes, clipped to [0.1 %, 99.9 %].
  const double lo = 0.001, hi = 0.999;
  Plot p("det-plot", "DET curve (normal deviate scale)", "false positive rate (%)",
         "false negative rate (%)");
  p.set_range(probit(lo), probit(hi), probit(lo), probit(hi));
  for (double pct : {0.1, 1.0, 5.0, 20.0, 50.0, 80.0, 95.0, 99.0, 99.9}) {
    const std::string label = pct < 1 || pct > 99 ? num(pct, 1) : num(pct, 0);
    p.x_tick(probit(pct / 100), label);
    p.y_tick(probit(pct / 100), label);
  }
  p.line("det-eer-line", {probit(lo), probit(hi)}, {probit(lo), probit(hi)}, "#999",
         "stroke-dasharray=\"4 4\"");
  auto clipped = [&](const std::vector<double>& v) {
    std::vector<double> out;
    for (double x : v) out.push_back(probit(std::clamp(x, lo, hi)));
    return out;
  };
  std::vector<std::pair<std::string, std::string>> legend;
  for (const auto& level : plotted_levels(plots)) {
    const auto& det = plots[level]["det"];
    p.line("det-curve-" + level, clipped(numbers(det["fpr"])), clipped(numbers(det["fnr"])),
           level_colour(level));
    legend.emplace_back(level + " level", level_colour(level));
  }
  p.legend(legend);
  return p.svg();
}

std::string histogram_svg(const ordered_json& hist, const std::string& level) {
  const auto fake = numbers(hist["fake"]), real = numbers(hist["real"]);
  const int bins = hist["bins"].get<int>();
  double top = 0;
  for (double v : fake) top = std::max(top, v);
  for (double v : real) top = std::max(top, v);
  top = top > 0 ? std::min(1.0, std::ceil(top * 10 + 1e-9) / 10) : 1.0;
  Plot p("hist-plot", "Score histogram per class (" + level + " level)", "score = P(fake)",
         "fraction of the class");
  p.set_range(0, 1, 0, top);
  for (double t = 0; t <= 1.0001; t += 0.2) p.x_tick(t, num(t, 1));
  for (int k = 0; k <= 4; ++k) p.y_tick(top * k / 4, num(top * k / 4, 2));
  // Step outlines over translucent bars, reals first so fakes stay visible.
  auto bars = [&](const std::vector<double>& v, const std::string& id, const char* colour) {
    std::ostringstream d;
    std::vector<double> xs, ys;
    for (int k = 0; k < bins; ++k) {
      const double x0 = static_cast<double>(k) / bins, x1 = static_cast<double>(k + 1) / bins;
      if (v[static_cast<std::size_t>(k)] > 0)
        d << "M" << num(p.px(x0), 2) << " " << num(p.py(0), 2) << "V"
          << num(p.py(v[static_cast<std::size_t>(k)]), 2) << "H" << num(p.px(x1), 2) << "V" << num(p.py(0), 2)
          << "Z";
    }
    p.raw("<path id=\"" + id + "\" class=\"bars\" fill=\"" + colour + "\" fill-opacity=\"0.45\" stroke=\"" +
          colour + "\" d=\"" + d.str() + "\"/>");
  };
  bars(real, "hist-real", "#1c64b4");
  bars(fake, "hist-fake", "#c92a2a");
  p.legend({{"real (n=" + hist["n_real"].dump() + ")", "#1c64b4"},
            {"fake (n=" + hist["n_fake"].dump() + ")", "#c92a2a"}});
  return p.svg();
}

const std::vector<std::pair<const char*, const char*>>& metric_rows() {
  static const std::vector<std::pair<const char*, const char*>> rows = {
      {"auc", "AUC"},
      {"ap", "AP"},
      {"eer", "EER"},
      {"eer_threshold", "EER threshold"},
      {"log_loss", "log-loss"},
      {"accuracy", "accuracy"},
      {"balanced_accuracy", "balanced accuracy"},
      {"tpr_at_fpr_1pct", "TPR at 1% FPR"},
      {"tpr_at_fpr_1pct_threshold", "its threshold"},
      {"min_tdcf", "min t-DCF"},
      {"min_tdcf_threshold", "min t-DCF threshold"},
      {"asv_eer", "ASV EER"}};
  return rows;
}

std::string metric_cell(const ordered_json& report, const std::string& key) {
  if (!report.contains(key)) return "<td class=\"na\">-</td>";
  const auto& v = report[key];
  std::string cell = value_text(v);
  if (v.is_null() && report.contains("reasons") && report["reasons"].contains(key))
    cell = "n/a <span class=\"why\">(" + escape(report["reasons"][key].get<std::string>()) + ")</span>";
  if (report.contains("ci95") && report["ci95"].is_object() && report["ci95"].contains(key) &&
      v.is_number()) {
    const auto& ci = report["ci95"][key];
    if (ci["low"].is_number())
      cell += " <span class=\"ci\">[" + value_text(ci["low"]) + ", " + value_text(ci["high"]) + "]</span>";
  }
  return "<td>" + cell + "</td>";
}

std::string metrics_table(const ordered_json& doc) {
  std::vector<std::pair<std::string, const ordered_json*>> levels;
  if (doc.contains("levels"))
    for (const auto& [name, report] : doc["levels"].items())
      if (report.is_object() && report.contains("n")) levels.emplace_back(name, &report);
  if (levels.empty()) levels.emplace_back("file", &doc);
  std::ostringstream out;
  out << "<table id=\"metrics\"><thead><tr><th>metric</th>";
  for (const auto& [name, report] : levels) out << "<th>" << escape(name) << " level</th>";
  out << "</tr></thead><tbody><tr><td>samples (fake / real)</td>";
  for (const auto& [name, report] : levels)
    out << "<td>" << value_text((*report)["n"]) << " (" << value_text((*report)["n_fake"]) << " / "
        << value_text((*report)["n_real"]) << ")</td>";
  out << "</tr>";
  for (const auto& [key, label] : metric_rows()) {
    bool any = false;
    for (const auto& [name, report] : levels) any = any || report->contains(key);
    if (!any) continue;
    std::string name_cell = label;
    if (std::string(key) == "min_tdcf")  // which formula: the editions' values are not comparable
      for (const auto& [name, report] : levels)
        if (report->contains("tdcf_edition")) {
          name_cell += " (" + std::to_string((*report)["tdcf_edition"].get<int>()) + ")";
          break;
        }
    out << "<tr><td>" << name_cell << "</td>";
    for (const auto& [name, report] : levels) out << metric_cell(*report, key);
    out << "</tr>";
  }
  out << "<tr><td>threshold used</td>";
  for (const auto& [name, report] : levels) out << "<td>" << value_text((*report)["threshold"]) << "</td>";
  out << "</tr></tbody></table><p class=\"note\">Brackets: 95% bootstrap percentile intervals. ";
  if (doc.contains("levels_note")) out << escape(doc["levels_note"].get<std::string>());
  out << "</p>";
  return out.str();
}

std::string groups_section(const ordered_json& doc) {
  if (!doc.contains("groups") || doc["groups"].empty()) return "<p>No group columns.</p>";
  std::ostringstream out;
  for (const auto& [column, g] : doc["groups"].items()) {
    out << "<h3>by " << escape(column) << "</h3><table class=\"groups\" id=\"groups-" << escape(column)
        << "\"><thead><tr><th>" << escape(column)
        << "</th><th>n</th><th>fake</th><th>real</th><th>AUC</th><th>AP</th><th>EER</th><th>accuracy</th>"
           "<th>reals compared</th></tr></thead><tbody>";
    for (const auto& [name, r] : g["by_group"].items()) {
      const bool best = g["auc_best_group"] == name, worst = g["auc_worst_group"] == name;
      out << "<tr"
          << (best    ? " class=\"best\""
              : worst ? " class=\"worst\""
                      : "")
          << "><td>" << escape(name)
          << (best    ? " (best)"
              : worst ? " (worst)"
                      : "")
          << "</td><td>" << value_text(r["n"]) << "</td><td>" << value_text(r["n_fake"]) << "</td><td>"
          << value_text(r["n_real"]) << "</td>" << metric_cell(r, "auc") << metric_cell(r, "ap")
          << metric_cell(r, "eer") << metric_cell(r, "accuracy") << "<td>"
          << (r.value("vs_all_reals", false) ? "all reals" : "the group's own") << "</td></tr>";
    }
    out << "</tbody></table><p class=\"gap\">AUC gap between the best and the worst group: <b>"
        << value_text(g["auc_gap"]) << "</b>";
    if (g.contains("reasons")) out << " (" << escape(g["reasons"].value("auc_gap", "")) << ")";
    out << "</p>";
  }
  out << "<p class=\"note\">A group with reals is scored on its own fakes and reals; a group without "
         "reals (a manipulation method) is scored as its fakes against all reals.</p>";
  return out.str();
}

std::string unscored_section(const ordered_json& doc) {
  std::ostringstream out;
  if (doc.contains("statuses")) {
    out << "<p>File statuses: ";
    bool first = true;
    for (const auto& [status, n] : doc["statuses"].items()) {
      out << (first ? "" : ", ") << escape(status) << " " << value_text(n, 0);
      first = false;
    }
    out << ".</p>";
  }
  if (!doc.contains("unscored") || doc["unscored"]["count"].get<std::size_t>() == 0)
    return out.str() + "<p>Every file was scored.</p>";
  const auto& u = doc["unscored"];
  out << "<p>" << value_text(u["count"], 0)
      << " file(s) could not be scored; they are left out of every metric (never scored as 0.5).</p>"
         "<table "
         "id=\"unscored\"><thead><tr><th>path</th><th>label</th><th>status</th><th>message</th></tr></thead>"
         "<tbody>";
  for (const auto& f : u["files"])
    out << "<tr><td>" << escape(f["path"].get<std::string>()) << "</td><td>"
        << escape(f["label"].get<std::string>()) << "</td><td>" << escape(f["status"].get<std::string>())
        << "</td><td>" << escape(f["error"].get<std::string>()) << "</td></tr>";
  out << "</tbody></table>";
  if (u["files"].size() < u["count"].get<std::size_t>())
    out << "<p class=\"note\">First " << u["files"].size()
        << " listed; report.json and the scores CSV hold all.</p>";
  return out.str();
}

std::string config_section(const ordered_json& doc) {
  std::ostringstream out;
  out << "<table id=\"config\"><tbody>";
  if (doc.contains("config"))
    for (const auto& [key, v] : doc["config"].items())
      out << "<tr><th>" << escape(key) << "</th><td><code>"
          << escape(v.is_string() ? v.get<std::string>() : json_text(v)) << "</code></td></tr>";
  if (doc.contains("bootstrap"))
    out << "<tr><th>bootstrap</th><td><code>" << escape(doc["bootstrap"].dump()) << "</code></td></tr>";
  if (doc.contains("inputs"))
    out << "<tr><th>inputs</th><td><code>" << escape(json_text(doc["inputs"])) << "</code></td></tr>";
  out << "</tbody></table>";
  return out.str();
}

constexpr const char* kStyle = R"(
body{font-family:sans-serif;margin:1.5em auto;max-width:1100px;color:#222;background:#fafafa}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1em}table{border-collapse:collapse;margin:.5em 0;background:#fff}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:.9em;vertical-align:top}
thead th{background:#eef}.ci{color:#555;font-size:.85em}.why{color:#777;font-size:.85em}.na{color:#aaa}
tr.best td{background:#ebfbee}tr.worst td{background:#fff0f0}.note{color:#555;font-size:.85em}
.plots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;background:#fff;border:1px solid #ddd;padding:6px}
figcaption{font-size:.85em;text-align:center;color:#444}.grid{stroke:#e3e3e3;stroke-width:1}
.tick{font-size:10px;fill:#333}.axis{font-size:11px;fill:#222}code{font-size:.85em;word-break:break-all}
)";

}  // namespace

std::string render_html_report(const ordered_json& doc) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
         "'unsafe-inline'; "
         "img-src data:\"><title>dfscan evaluation report</title><style>"
      << kStyle << "</style></head><body>\n<h1>dfscan evaluation report</h1>";
  out << "<p>" << value_text(doc.value("n", ordered_json(0)), 0) << " scored samples ("
      << value_text(doc.value("n_fake", ordered_json(0)), 0) << " fake, "
      << value_text(doc.value("n_real", ordered_json(0)), 0) << " real)";
  if (doc.contains("unscored")) out << ", " << value_text(doc["unscored"]["count"], 0) << " unscored";
  out << "; label 1 = fake is the positive class; score = P(fake); EER by the ASVspoof scorer's "
         "algorithm.</p>\n";
  out << "<h2>Metrics</h2>" << metrics_table(doc) << "\n";
  out << "<h2>Curves</h2><div class=\"plots\">";
  if (doc.contains("plots")) {
    const auto& plots = doc["plots"];
    out << roc_svg(plots) << det_svg(plots);
    for (const char* level : {"file", "frame", "video"})
      if (plots.contains(level)) {
        out << histogram_svg(plots[level]["histogram"], level);
        break;
      }
  }
  out << "</div>\n<h2>Groups</h2>" << groups_section(doc) << "\n<h2>Files</h2>" << unscored_section(doc)
      << "\n<h2>Configuration</h2>" << config_section(doc) << "\n</body></html>\n";
  return out.str();
}

}  // namespace dfscan::eval
