// DataStats: computed from the records the reader kept plus its report.
#include "data/stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "core/error.h"
#include "data/utf8_repair.h"

namespace loid {

std::int64_t percentile(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double n = static_cast<double>(sorted.size());
  auto rank = static_cast<std::int64_t>(std::ceil(p / 100.0 * n));
  rank = std::clamp<std::int64_t>(rank, 1, static_cast<std::int64_t>(sorted.size()));
  return sorted[static_cast<std::size_t>(rank - 1)];
}

std::int64_t count_tokens(const std::string& text) {
  std::int64_t count = 0;
  bool in_token = false;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
    if (!space && !in_token) ++count;
    in_token = !space;
  }
  return count;
}

namespace {

LengthSummary summarize_lengths(std::vector<std::int64_t> v) {
  LengthSummary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.p50 = percentile(v, 50);
  s.p90 = percentile(v, 90);
  s.p99 = percentile(v, 99);
  s.max = v.back();
  double sum = 0;
  for (const auto x : v) sum += static_cast<double>(x);
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

CountSummary summarize_counts(const std::unordered_map<std::string, std::int64_t>& counts) {
  CountSummary s;
  if (counts.empty()) return s;
  std::vector<std::int64_t> v;
  v.reserve(counts.size());
  for (const auto& [k, c] : counts) v.push_back(c);
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.median = percentile(v, 50);
  s.max = v.back();
  return s;
}

// 1234567 -> "1,234,567"
std::string with_commas(std::int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string rating_key(float r) {
  return fmt("%g", r);
}

std::string lines_list(const std::vector<std::int64_t>& lines, std::int64_t count) {
  std::string s;
  for (const auto l : lines) s += (s.empty() ? "" : ", ") + std::to_string(l);
  if (count > static_cast<std::int64_t>(lines.size())) s += ", ...";
  return s;
}

std::string length_line(const LengthSummary& s) {
  return "p50 " + with_commas(s.p50) + ", p90 " + with_commas(s.p90) + ", p99 " +
         with_commas(s.p99) + ", max " + with_commas(s.max) + ", mean " + fmt("%.1f", s.mean);
}

nlohmann::ordered_json length_json(const LengthSummary& s) {
  return {{"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}, {"mean", s.mean}};
}

nlohmann::ordered_json count_json(const CountSummary& s) {
  return {{"min", s.min}, {"median", s.median}, {"max", s.max}};
}

}  // namespace

DataStats compute_stats(const ReviewFile& file) {
  const ReadReport& rep = file.report;
  DataStats st;
  st.file = rep.file;
  st.format = rep.format;
  st.lines = rep.lines;
  st.records = static_cast<std::int64_t>(file.reviews.size());
  st.duplicates_dropped = rep.duplicates_dropped;
  st.repeated_texts_dropped = rep.repeated_texts_dropped;
  st.empty_text = rep.empty_text;
  st.utf8_repaired = rep.utf8_repaired;
  st.skipped = rep.skipped;
  st.skipped_total = rep.skipped_total();
  std::unordered_map<std::string, std::int64_t> per_user, per_item;
  std::vector<std::int64_t> chars, tokens;
  chars.reserve(file.reviews.size());
  tokens.reserve(file.reviews.size());
  double rating_sum = 0;
  for (const Review& r : file.reviews) {
    ++per_user[r.user];
    ++per_item[r.item];
    ++st.ratings[r.rating];
    rating_sum += r.rating;
    chars.push_back(static_cast<std::int64_t>(utf8_length(r.text)));
    tokens.push_back(count_tokens(r.text));
  }
  st.users = static_cast<std::int64_t>(per_user.size());
  st.items = static_cast<std::int64_t>(per_item.size());
  st.rating_mean = st.records > 0 ? rating_sum / static_cast<double>(st.records) : 0.0;
  st.per_user = summarize_counts(per_user);
  st.per_item = summarize_counts(per_item);
  st.chars = summarize_lengths(std::move(chars));
  st.tokens = summarize_lengths(std::move(tokens));
  return st;
}

std::string format_stats(const DataStats& s) {
  std::string o;
  auto row = [&o](const char* label, const std::string& value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %-16s", label);
    o += buf + value + "\n";
  };
  o += s.file + " (" + s.format + ")\n";
  row("lines", with_commas(s.lines) + " non-blank data lines");
  row("records", with_commas(s.records) + " kept, " + with_commas(s.skipped_total) +
                     " lines skipped, " + with_commas(s.duplicates_dropped) +
                     " duplicates dropped" +
                     (s.repeated_texts_dropped > 0
                          ? ", " + with_commas(s.repeated_texts_dropped) + " repeated texts dropped"
                          : std::string()));
  const double cells = static_cast<double>(s.users) * static_cast<double>(s.items);
  row("users / items", with_commas(s.users) + " / " + with_commas(s.items) + " (density " +
                           fmt("%.3f", cells > 0 ? 100.0 * s.records / cells : 0.0) + "%)");
  std::string hist;
  for (const auto& [r, c] : s.ratings) {
    hist += (hist.empty() ? "" : "  ") + rating_key(r) + ": " + with_commas(c) + " (" +
            fmt("%.1f", 100.0 * c / std::max<std::int64_t>(1, s.records)) + "%)";
  }
  row("ratings", hist.empty() ? "none" : hist + "  mean " + fmt("%.3f", s.rating_mean));
  row("reviews/user", "min " + with_commas(s.per_user.min) + ", median " +
                          with_commas(s.per_user.median) + ", max " + with_commas(s.per_user.max));
  row("reviews/item", "min " + with_commas(s.per_item.min) + ", median " +
                          with_commas(s.per_item.median) + ", max " + with_commas(s.per_item.max));
  row("text chars", length_line(s.chars));
  row("text tokens", length_line(s.tokens));
  row("empty text", with_commas(s.empty_text) + " (kept, flagged)");
  row("UTF-8 repaired", with_commas(s.utf8_repaired));
  if (s.skipped.empty()) {
    row("skipped", "none");
  } else {
    row("skipped", with_commas(s.skipped_total) + " lines");
    for (const auto& [reason, sk] : s.skipped) {
      o += "    " + reason + ": " + with_commas(sk.count) + " (line" +
           (sk.first_lines.size() > 1 ? "s " : " ") + lines_list(sk.first_lines, sk.count) + ")\n";
    }
  }
  return o;
}

nlohmann::ordered_json stats_to_json(const DataStats& s) {
  nlohmann::ordered_json ratings = nlohmann::ordered_json::object();
  for (const auto& [r, c] : s.ratings) ratings[rating_key(r)] = c;
  nlohmann::ordered_json skipped = nlohmann::ordered_json::object();
  for (const auto& [reason, sk] : s.skipped) {
    skipped[reason] = {{"count", sk.count}, {"first_lines", sk.first_lines}};
  }
  return {{"file", s.file},
          {"format", s.format},
          {"lines", s.lines},
          {"records", s.records},
          {"users", s.users},
          {"items", s.items},
          {"ratings", ratings},
          {"rating_mean", s.rating_mean},
          {"reviews_per_user", count_json(s.per_user)},
          {"reviews_per_item", count_json(s.per_item)},
          {"text_chars", length_json(s.chars)},
          {"text_tokens", length_json(s.tokens)},
          {"duplicates_dropped", s.duplicates_dropped},
          {"repeated_texts_dropped", s.repeated_texts_dropped},
          {"empty_text", s.empty_text},
          {"utf8_repaired", s.utf8_repaired},
          {"skipped_total", s.skipped_total},
          {"skipped", skipped}};
}

void run_data_stats(const StatsOptions& options, std::ostream& out) {
  if (options.files.empty()) throw UsageError("data stats: no input files");
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < options.files.size(); ++i) {
    const DataStats st = compute_stats(read_reviews(options.files[i], options.read));
    if (options.json) {
      all.push_back(stats_to_json(st));
    } else {
      out << (i > 0 ? "\n" : "") << format_stats(st);
      out.flush();
    }
  }
  if (options.json) out << (all.size() == 1 ? all[0] : all).dump(2) << "\n";
}

}  // namespace loid
