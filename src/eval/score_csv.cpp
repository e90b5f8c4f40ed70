// Reading `dfscan eval --scores` files: path,label,score[,group...] CSV, possibly several shards.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "dfscan/csv.hpp"
#include "dfscan/metrics.hpp"
#include "dfscan/status.hpp"

namespace dfscan::eval {
namespace {

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

[[noreturn]] void fail_at(const std::string& file, std::size_t line, const std::string& what) {
  throw Error(Status::error, file + ":" + std::to_string(line) + ": " + what);
}

int parse_label(const std::string& raw, const std::string& file, std::size_t line_no) {
  const std::string v = lower(trim(raw));
  if (v == "fake" || v == "1") return 1;
  if (v == "real" || v == "0") return 0;
  fail_at(file, line_no, "label \"" + raw + "\" is not fake, real, 1 or 0");
}

double parse_score(const std::string& raw, const std::string& file, std::size_t line_no) {
  const std::string v = trim(raw);
  if (v.empty()) fail_at(file, line_no, "empty score (leave unscored files out of the score file)");
  errno = 0;
  char* end = nullptr;
  const double score = std::strtod(v.c_str(), &end);
  if (end != v.c_str() + v.size() || errno == ERANGE || !std::isfinite(score) || score < 0.0 || score > 1.0)
    fail_at(file, line_no, "score \"" + raw + "\" is not a number in [0, 1]");
  return score;
}

std::vector<double> parse_frame_scores(const std::string& raw, const std::string& file, std::size_t line_no) {
  std::vector<double> out;
  std::istringstream words(raw);
  for (std::string w; words >> w;) out.push_back(parse_score(w, file, line_no));
  return out;
}

struct Seen {
  std::string where;
  std::size_t row;
  bool scored;
};

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

ScoreTable read_score_files(const std::vector<std::string>& files) {
  if (files.empty()) throw Error(Status::error, "no score file given");
  ScoreTable table;
  bool have_header_layout = false;
  std::unordered_map<std::string, Seen> seen;
  std::string scored_by_where;  // the first row that named its run
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(Status::not_found, "cannot open score file " + file + ": " + std::strerror(errno));
    std::string line;
    std::size_t line_no = 0;
    std::size_t path_col = 0, label_col = 0, score_col = 0, n_cols = 0;
    std::optional<std::size_t> status_col, error_col, modality_col, threshold_col, frames_col, scored_by_col;
    std::vector<std::size_t> extra_cols;
    bool header_done = false;
    while (csv::read_line(in, line, line_no)) {
      if (trim(line).empty()) continue;
      auto fields = csv::split(line, file, line_no);
      if (!header_done) {
        header_done = true;
        n_cols = fields.size();
        std::vector<std::string> extra_names;
        bool has_path = false, has_label = false, has_score = false;
        for (std::size_t c = 0; c < fields.size(); ++c) {
          const std::string name = trim(fields[c]);
          const std::string key = lower(name);
          for (std::size_t d = 0; d < c; ++d)
            if (lower(trim(fields[d])) == key)
              fail_at(file, line_no, "column \"" + name + "\" appears twice");
          if (key == "path") {
            path_col = c;
            has_path = true;
          } else if (key == "label") {
            label_col = c;
            has_label = true;
          } else if (key == "score") {
            score_col = c;
            has_score = true;
          } else if (key == "status") {
            status_col = c;
          } else if (key == "error") {
            error_col = c;
          } else if (key == "modality") {
            modality_col = c;
          } else if (key == "threshold") {
            threshold_col = c;
          } else if (key == "frame_scores") {
            frames_col = c;
          } else if (key == "scored_by") {
            scored_by_col = c;
          } else {
            extra_cols.push_back(c);
            extra_names.push_back(name);
          }
        }
        if (!has_path || !has_label || !has_score)
          fail_at(file, line_no,
                  std::string("header lacks the column \"") +
                      (!has_path    ? "path"
                       : !has_label ? "label"
                                    : "score") +
                      "\" (expected path,label,score[,group...])");
        const bool with_status = status_col.has_value(), with_frames = frames_col.has_value();
        if (!have_header_layout) {
          table.extra_columns = extra_names;
          table.has_status = with_status;
          table.has_frame_scores = with_frames;
          have_header_layout = true;
        } else if (extra_names != table.extra_columns) {
          fail_at(file, line_no, "its extra columns differ from those of " + files.front());
        } else if (with_status != table.has_status || with_frames != table.has_frame_scores) {
          fail_at(file, line_no, "its status/frame_scores columns differ from those of " + files.front());
        }
        continue;
      }
      if (fields.size() != n_cols)
        fail_at(file, line_no,
                "expected " + std::to_string(n_cols) + " fields, found " + std::to_string(fields.size()));
      const std::string& path = fields[path_col];
      if (trim(path).empty()) fail_at(file, line_no, "empty path");
      const int label = parse_label(fields[label_col], file, line_no);
      std::vector<std::string> extras;
      for (auto c : extra_cols) extras.push_back(trim(fields[c]));
      const std::string status = status_col ? trim(fields[*status_col]) : "ok";
      if (status.empty()) fail_at(file, line_no, "empty status");
      const std::string where = file + ":" + std::to_string(line_no);
      if (scored_by_col) {
        const std::string by = trim(fields[*scored_by_col]);
        if (scored_by_where.empty()) {
          table.scored_by = by;
          scored_by_where = where;
        } else if (by != table.scored_by) {
          fail_at(file, line_no,
                  "scored by \"" + by + "\", but " + scored_by_where + " by \"" + table.scored_by +
                      "\"; evaluate the scores of one run (same models and settings) together");
        }
      }

      if (status != "ok") {
        // A file the scan could not score: counted and listed, never given a made-up score.
        if (!trim(fields[score_col]).empty())
          fail_at(file, line_no, "a row with status \"" + status + "\" has a score");
        ScoreTable::Unscored row{path, label, status, error_col ? fields[*error_col] : "", std::move(extras)};
        auto [it, inserted] = seen.emplace(path, Seen{where, table.unscored.size(), false});
        if (!inserted) {
          const auto& old = it->second;
          if (old.scored || table.unscored[old.row].status != row.status ||
              table.unscored[old.row].label != row.label)
            fail_at(file, line_no, "path \"" + path + "\" was already given differently at " + old.where);
          ++table.duplicates_dropped;
          continue;
        }
        table.unscored.push_back(std::move(row));
        continue;
      }
      const double score = parse_score(fields[score_col], file, line_no);
      std::vector<double> frames;
      if (frames_col) frames = parse_frame_scores(fields[*frames_col], file, line_no);
      double threshold = 0;
      if (threshold_col) {
        const std::string t = trim(fields[*threshold_col]);
        threshold = t.empty() ? std::nan("") : parse_score(t, file, line_no);
      }

      auto [it, inserted] = seen.emplace(path, Seen{where, table.paths.size(), true});
      if (!inserted) {
        const std::size_t row = it->second.row;
        if (!it->second.scored || table.labels[row] != label || table.scores[row] != score ||
            table.extra_values[row] != extras || (frames_col && table.frame_scores[row] != frames))
          fail_at(file, line_no,
                  "path \"" + path + "\" was already given differently at " + it->second.where);
        ++table.duplicates_dropped;  // the same row from an overlapping or re-run shard
        continue;
      }
      table.paths.push_back(path);
      table.labels.push_back(label);
      table.scores.push_back(score);
      table.extra_values.push_back(std::move(extras));
      if (frames_col) table.frame_scores.push_back(std::move(frames));
      if (modality_col) table.modalities.push_back(trim(fields[*modality_col]));
      if (threshold_col) table.thresholds.push_back(threshold);
    }
    if (in.bad()) throw Error(Status::error, "error reading score file " + file);
    if (!header_done) fail_at(file, 1, "empty file: expected a header path,label,score[,group...]");
  }
  return table;
}

std::vector<std::string> column_values(const ScoreTable& table, const std::string& column) {
  for (std::size_t c = 0; c < table.extra_columns.size(); ++c) {
    if (table.extra_columns[c] != column) continue;
    std::vector<std::string> values;
    values.reserve(table.extra_values.size());
    for (const auto& row : table.extra_values) values.push_back(row[c]);
    return values;
  }
  std::string available;
  for (const auto& name : table.extra_columns) available += (available.empty() ? "" : ", ") + name;
  throw Error(Status::error, "no column \"" + column + "\" in the score file (group columns: " +
                                 (available.empty() ? "none" : available) + ")");
}

void sort_by_path(ScoreTable& table) {
  const std::size_t n = table.paths.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return table.paths[a] < table.paths[b]; });
  auto permute = [&](auto& v) {
    if (v.size() != n) return;
    std::remove_reference_t<decltype(v)> sorted;
    sorted.reserve(n);
    for (auto i : order) sorted.push_back(std::move(v[i]));
    v = std::move(sorted);
  };
  permute(table.paths);
  permute(table.labels);
  permute(table.scores);
  permute(table.extra_values);
  permute(table.frame_scores);
  permute(table.modalities);
  permute(table.thresholds);
  std::sort(table.unscored.begin(), table.unscored.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
}

std::string score_table_csv(const ScoreTable& table) {
  ScoreTable sorted = table;
  sort_by_path(sorted);
  std::ostringstream out;
  out << "path,label,score,status,error,modality,threshold,frame_scores,scored_by";
  for (const auto& c : sorted.extra_columns) out << "," << csv::field(c);
  out << "\n";
  const std::string scored_by = csv::field(sorted.scored_by);
  auto extras = [&](const std::vector<std::string>& values) {
    out << "," << scored_by;
    for (const auto& v : values) out << "," << csv::field(v);
    out << "\n";
  };
  for (std::size_t i = 0; i < sorted.paths.size(); ++i) {
    out << csv::field(sorted.paths[i]) << "," << sorted.labels[i] << "," << exact(sorted.scores[i])
        << ",ok,,";
    if (i < sorted.modalities.size()) out << csv::field(sorted.modalities[i]);
    out << ",";
    if (i < sorted.thresholds.size() && !std::isnan(sorted.thresholds[i])) out << exact(sorted.thresholds[i]);
    out << ",";
    if (i < sorted.frame_scores.size())
      for (std::size_t k = 0; k < sorted.frame_scores[i].size(); ++k)
        out << (k ? " " : "") << exact(sorted.frame_scores[i][k]);
    extras(sorted.extra_values[i]);
  }
  for (const auto& u : sorted.unscored) {
    out << csv::field(u.path) << "," << u.label << ",," << csv::field(u.status) << "," << csv::field(u.error)
        << ",,,";
    extras(u.extra_values);
  }
  return out.str();
}

}  // namespace dfscan::eval
