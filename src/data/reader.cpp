// read_reviews: format detection, per-format field extraction, validation into Review records,
// skip accounting and duplicate handling. The per-format code only fills a Fields table; one
// function (build_review) applies the same rules to every format.
#include "data/reader.h"

#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/progress.h"
#include "data/pyliteral.h"
#include "data/utf8_repair.h"
#include "io/line_reader.h"

namespace loid {

std::int64_t ReadReport::skipped_total() const {
  std::int64_t total = 0;
  for (const auto& [reason, s] : skipped) total += s.count;
  return total;
}

namespace {

enum Field { kUser, kItem, kRating, kText, kSummary, kTime, kFieldCount };
const char* const kFieldNames[kFieldCount] = {"user", "item", "rating", "text", "summary", "time"};

// Accepted names per field, best first (matching ignores case, '_', '-' and spaces). Amazon 2014
// and 2018 use reviewerID/asin/overall/reviewText/summary/unixReviewTime.
const std::array<std::vector<std::string>, kFieldCount> kAliases = {{
    {"user", "user_id", "reviewerID", "uid", "customer_id"},
    {"item", "item_id", "asin", "product_id", "parent_asin", "iid", "business_id"},
    {"rating", "overall", "stars", "star_rating", "score"},
    {"text", "review", "reviewText", "review_text", "review_body", "body", "content"},
    {"summary", "title", "review_title", "review_headline", "headline"},
    {"time", "timestamp", "unixReviewTime", "unix_time"},
}};

// Timestamps above this are taken as milliseconds (Amazon 2023 writes ms); 1e11 s is year 5138.
constexpr double kMillisecondThreshold = 1e11;

enum class Format { kUnknown, kJson, kPython, kTsv, kCsv };

const char* format_name(Format f) {
  switch (f) {
    case Format::kJson:
      return "json";
    case Format::kPython:
      return "python-literal";
    case Format::kTsv:
      return "tsv";
    case Format::kCsv:
      return "csv";
    default:
      return "unknown";
  }
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string normalize_name(std::string_view name) {
  std::string out;
  for (const char c : trim(name)) {
    if (c == '_' || c == '-' || c == ' ') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

struct FieldRank {
  Field field;
  int rank;  // index in the alias list; lower wins when several names map to one field
};

const std::unordered_map<std::string, FieldRank>& alias_map() {
  static const auto* map = [] {
    auto* m = new std::unordered_map<std::string, FieldRank>();
    for (int f = 0; f < kFieldCount; ++f) {
      for (std::size_t i = 0; i < kAliases[f].size(); ++i) {
        m->emplace(normalize_name(kAliases[f][i]), FieldRank{static_cast<Field>(f), int(i)});
      }
    }
    return m;
  }();
  return *map;
}

bool field_of(std::string_view name, FieldRank* out) {
  const auto& m = alias_map();
  const auto it = m.find(normalize_name(name));
  if (it == m.end()) return false;
  *out = it->second;
  return true;
}

struct FieldValue {
  enum Kind { kAbsent, kNull, kString, kNumber, kOther } kind = kAbsent;
  std::string text;   // the string, or the number as written
  double number = 0;  // when kNumber
  int rank = 1 << 30;
};
using Fields = std::array<FieldValue, kFieldCount>;

struct Problem {
  const char* reason = nullptr;  // one of the kSkip* constants; nullptr = no problem
  std::string detail;
};

void fields_from_json(const nlohmann::json& obj, Fields& f) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    FieldRank fr;
    if (!field_of(it.key(), &fr) || fr.rank >= f[fr.field].rank) continue;
    FieldValue v;
    v.rank = fr.rank;
    const nlohmann::json& x = it.value();
    if (x.is_string()) {
      v.kind = FieldValue::kString;
      v.text = x.get<std::string>();
    } else if (x.is_number()) {
      v.kind = FieldValue::kNumber;
      v.number = x.get<double>();
      v.text = x.dump();
    } else if (x.is_null()) {
      v.kind = FieldValue::kNull;
    } else {
      v.kind = FieldValue::kOther;
    }
    f[fr.field] = std::move(v);
  }
}

// Streams a JSON line and keeps only the top-level fields the reader uses, so that nested values
// (style, image, helpful) and ignored keys never become a DOM (~20% faster than parse() here).
class FieldSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit FieldSax(Fields& fields) : fields_(fields) {}

  bool null() override { return scalar(FieldValue::kNull, std::string(), 0); }
  bool boolean(bool) override { return scalar(FieldValue::kOther, std::string(), 0); }
  bool number_integer(number_integer_t v) override {
    return scalar(FieldValue::kNumber, std::to_string(v), static_cast<double>(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    return scalar(FieldValue::kNumber, std::to_string(v), static_cast<double>(v));
  }
  bool number_float(number_float_t v, const string_t& s) override {
    return scalar(FieldValue::kNumber, s, v);
  }
  bool string(string_t& v) override { return scalar(FieldValue::kString, std::move(v), 0); }
  bool binary(binary_t&) override { return scalar(FieldValue::kOther, std::string(), 0); }
  bool start_object(std::size_t) override { return open(true); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_object() override { return --depth_, true; }
  bool end_array() override { return --depth_, true; }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      FieldRank fr;
      target_ =
          field_of(k, &fr) && fr.rank < fields_[fr.field].rank ? fr : FieldRank{kFieldCount, 0};
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    // nlohmann counts lines within the text it was given; only the column means anything here.
    error_ = e.what();
    const auto at = error_.find("at line 1, column");
    if (at != std::string::npos) error_.replace(at, 17, "at column");
    return false;
  }

  bool top_is_object() const { return top_object_; }
  const std::string& error() const { return error_; }

 private:
  bool open(bool object) {
    if (depth_ == 0) top_object_ = object;
    if (depth_ == 1) set(FieldValue::kOther, std::string(), 0);  // a nested value for a field
    ++depth_;
    return true;
  }
  bool scalar(FieldValue::Kind kind, std::string text, double number) {
    if (depth_ == 1) set(kind, std::move(text), number);
    return true;
  }
  void set(FieldValue::Kind kind, std::string text, double number) {
    if (target_.field == kFieldCount) return;
    FieldValue& v = fields_[target_.field];
    v.kind = kind;
    v.text = std::move(text);
    v.number = number;
    v.rank = target_.rank;
    target_.field = kFieldCount;
  }

  Fields& fields_;
  int depth_ = 0;
  bool top_object_ = false;
  FieldRank target_{kFieldCount, 0};
  std::string error_;
};

Problem id_field(const Fields& f, Field which, const char* missing, std::string& out) {
  const FieldValue& v = f[which];
  const std::string name = kFieldNames[which];
  switch (v.kind) {
    case FieldValue::kAbsent:
      return {missing, "no " + name + " field"};
    case FieldValue::kNull:
      return {missing, name + " is null"};
    case FieldValue::kOther:
      return {kSkipMalformed, name + " is not a string or number"};
    default:
      break;
  }
  const std::string_view t = trim(v.text);
  if (t.empty()) return {missing, name + " is empty"};
  out.assign(t);
  return {};
}

Problem text_field(const Fields& f, Field which, std::string& out) {
  const FieldValue& v = f[which];
  if (v.kind == FieldValue::kOther) {
    return {kSkipMalformed, std::string(kFieldNames[which]) + " is not a string"};
  }
  out = v.kind == FieldValue::kString || v.kind == FieldValue::kNumber ? v.text : std::string();
  return {};
}

Problem rating_field(const Fields& f, float& out) {
  const FieldValue& v = f[kRating];
  double r = 0;
  if (v.kind == FieldValue::kAbsent || v.kind == FieldValue::kNull) {
    return {kSkipMissingRating, v.kind == FieldValue::kNull ? "rating is null" : "no rating field"};
  }
  if (v.kind == FieldValue::kOther) return {kSkipRatingNotNumber, "rating is not a number"};
  if (v.kind == FieldValue::kNumber) {
    r = v.number;
  } else {
    const std::string t(trim(v.text));
    if (t.empty()) return {kSkipMissingRating, "rating is empty"};
    char* end = nullptr;
    r = std::strtod(t.c_str(), &end);
    if (*end != '\0' || !std::isfinite(r)) return {kSkipRatingNotNumber, "rating '" + t + "'"};
  }
  if (!std::isfinite(r)) return {kSkipRatingNotNumber, "rating is not finite"};
  if (r < 1.0 || r > 5.0) return {kSkipRatingOutOfRange, "rating " + v.text + " is outside 1..5"};
  out = static_cast<float>(r);
  return {};
}

std::int64_t time_field(const Fields& f) {
  const FieldValue& v = f[kTime];
  double t = 0;
  if (v.kind == FieldValue::kNumber) {
    t = v.number;
  } else if (v.kind == FieldValue::kString) {
    const std::string s(trim(v.text));
    char* end = nullptr;
    t = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !std::isfinite(t)) return 0;  // e.g. a date string: no time
  }
  if (std::fabs(t) > kMillisecondThreshold) t /= 1000.0;
  // Beyond int64 seconds is no time either (and converting it would be undefined behaviour).
  if (!(t > -0x1p63 && t < 0x1p63)) return 0;
  return static_cast<std::int64_t>(t);
}

// Applies the shared validation rules; fills `r` when there is no problem.
Problem build_review(const Fields& f, const ReadOptions& opt, Review& r) {
  if (auto p = id_field(f, kUser, kSkipMissingUser, r.user); p.reason) return p;
  if (auto p = id_field(f, kItem, kSkipMissingItem, r.item); p.reason) return p;
  if (auto p = rating_field(f, r.rating); p.reason) return p;
  std::string review, summary;
  if (auto p = text_field(f, kText, review); p.reason) return p;
  if (auto p = text_field(f, kSummary, summary); p.reason) return p;
  const bool has_review = !trim(review).empty();
  const bool has_summary = !trim(summary).empty();
  switch (opt.text) {
    case TextFields::kSummaryAndReview:
      if (has_summary && has_review) {
        r.text = summary + " " + review;
      } else {
        r.text = has_summary ? summary : (has_review ? review : std::string());
      }
      break;
    case TextFields::kReviewOnly:
      r.text = has_review ? review : std::string();
      break;
    case TextFields::kSummaryOnly:
      r.text = has_summary ? summary : std::string();
      break;
  }
  r.empty_text = !has_review || r.text.empty();
  r.time = time_field(f);
  return {};
}

enum class SplitStatus { kOk, kUnclosedQuote, kBadQuote };

// Splits one delimited record. Quoted fields ("..." with "" for a quote) are recognised at the
// start of a field. lenient (TSV): a quote that does not close properly is taken literally.
SplitStatus split_delimited(std::string_view s, char delim, bool lenient,
                            std::vector<std::string>& cells) {
  cells.clear();
  std::size_t i = 0;
  const std::size_t n = s.size();
  for (;;) {
    std::string cell;
    bool quoted_ok = false;
    if (i < n && s[i] == '"') {
      std::size_t j = i + 1;
      bool closed = false;
      while (j < n) {
        if (s[j] == '"') {
          if (j + 1 < n && s[j + 1] == '"') {
            cell += '"';
            j += 2;
            continue;
          }
          closed = true;
          ++j;
          break;
        }
        cell += s[j++];
      }
      if (!closed && !lenient) return SplitStatus::kUnclosedQuote;
      if (closed && j < n && s[j] != delim && !lenient) return SplitStatus::kBadQuote;
      if (closed && (j == n || s[j] == delim)) {
        quoted_ok = true;
        i = j;
      }
    }
    if (!quoted_ok) {
      const std::size_t k = std::min(s.find(delim, i), n);
      cell.assign(s.substr(i, k - i));
      i = k;
    }
    cells.push_back(std::move(cell));
    if (i >= n) return SplitStatus::kOk;
    ++i;  // the delimiter; a trailing one means a final empty cell
  }
}

std::string lower_extension(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  const auto dot = name.find_last_of('.');
  return dot == std::string::npos ? std::string() : name.substr(dot + 1);
}

Format detect_format(const std::string& path, std::string_view line, std::int64_t line_no) {
  const std::string ext = lower_extension(path);
  if (ext == "csv") return Format::kCsv;
  if (ext == "tsv" || ext == "tab") return Format::kTsv;
  const std::string_view t = trim(line);
  if (!t.empty() && t.front() == '{') {
    if (nlohmann::json::accept(t)) return Format::kJson;
    nlohmann::json j;
    if (parse_python_literal(t, j).ok) return Format::kPython;
    // Neither parses: guess from the quote that opens the first key; the line counts as malformed.
    const std::string_view rest = trim(t.substr(1));
    return !rest.empty() && rest.front() == '\'' ? Format::kPython : Format::kJson;
  }
  if (line.find('\t') != std::string_view::npos) return Format::kTsv;
  if (line.find(',') != std::string_view::npos) return Format::kCsv;
  throw InputError(path, line_no,
                   "cannot tell the format from the first line: expected a JSON object, a Python "
                   "dict literal, or a TSV/CSV header naming user, item, rating and text columns");
}

std::string alias_list(Field f) {
  std::string s;
  for (const auto& a : kAliases[f]) s += (s.empty() ? "" : ", ") + a;
  return s;
}

// Column index per field (-1 when absent); throws when a required column is missing.
std::array<int, kFieldCount> parse_header(const std::string& path, std::int64_t line_no,
                                          const std::vector<std::string>& cells) {
  std::array<int, kFieldCount> col;
  std::array<int, kFieldCount> rank;
  col.fill(-1);
  rank.fill(1 << 30);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    FieldRank fr;
    if (field_of(cells[i], &fr) && fr.rank < rank[fr.field]) {
      col[fr.field] = static_cast<int>(i);
      rank[fr.field] = fr.rank;
    }
  }
  std::string found;
  for (const auto& c : cells) found += (found.empty() ? "" : ", ") + std::string(trim(c));
  for (const Field f : {kUser, kItem, kRating}) {
    if (col[f] < 0) {
      throw InputError(path, line_no,
                       std::string("header has no ") + kFieldNames[f] +
                           " column (accepted names: " + alias_list(f) +
                           "); columns found: " + found);
    }
  }
  if (col[kText] < 0 && col[kSummary] < 0) {
    throw InputError(path, line_no,
                     "header has no text column (accepted names: " + alias_list(kText) + "; or " +
                         alias_list(kSummary) + "); columns found: " + found);
  }
  return col;
}

bool is_blank(std::string_view s) {
  return trim(s).empty();
}

// A map key for (user, second) that no other pair shares: the user's length, ':', user, second.
void user_pair_key(std::string& key, const std::string& user, const std::string& second) {
  key.assign(std::to_string(user.size()));
  key += ':';
  key += user;
  key += second;
}

// Keeps one record per (user, item) according to the policy; returns how many were dropped.
std::int64_t apply_duplicate_policy(std::vector<Review>& reviews, DuplicatePolicy policy) {
  if (policy == DuplicatePolicy::kKeepAll) return 0;
  std::unordered_map<std::string, std::size_t> chosen;
  chosen.reserve(reviews.size());
  std::string key;
  for (std::size_t i = 0; i < reviews.size(); ++i) {
    user_pair_key(key, reviews[i].user, reviews[i].item);
    const auto [it, inserted] = chosen.emplace(key, i);
    // Later lines win ties on time, so ">=".
    if (!inserted && policy == DuplicatePolicy::kKeepLatest &&
        reviews[i].time >= reviews[it->second].time) {
      it->second = i;
    }
  }
  std::vector<char> keep(reviews.size(), 0);
  for (const auto& [k, i] : chosen) keep[i] = 1;
  std::vector<Review> kept;
  kept.reserve(chosen.size());
  for (std::size_t i = 0; i < reviews.size(); ++i) {
    if (keep[i]) kept.push_back(std::move(reviews[i]));
  }
  const auto dropped = static_cast<std::int64_t>(reviews.size() - kept.size());
  reviews = std::move(kept);
  return dropped;
}

// Drops a user's review whose non-empty text equals an earlier kept review's of the same user;
// returns how many were dropped.
std::int64_t apply_repeated_text_policy(std::vector<Review>& reviews, RepeatedTextPolicy policy) {
  if (policy == RepeatedTextPolicy::kKeep) return 0;
  std::unordered_set<std::string> seen;
  seen.reserve(reviews.size());
  std::vector<Review> kept;
  kept.reserve(reviews.size());
  std::string key;
  for (Review& r : reviews) {
    if (!r.empty_text) {
      user_pair_key(key, r.user, r.text);
      if (!seen.insert(key).second) continue;
    }
    kept.push_back(std::move(r));
  }
  const auto dropped = static_cast<std::int64_t>(reviews.size() - kept.size());
  reviews = std::move(kept);
  return dropped;
}

// Reading state of one file: the format, the CSV header and pending multi-line CSV records.
class FileReader {
 public:
  FileReader(const std::string& path, const ReadOptions& opt) : path_(path), opt_(opt) {
    out_.report.file = path;
  }

  ReviewFile run();

 private:
  void problem(const char* reason, std::int64_t line, const std::string& detail) {
    if (opt_.strict) {
      throw InputError(path_, line, std::string(reason) + (detail.empty() ? "" : ": " + detail));
    }
    auto& s = out_.report.skipped[reason];
    ++s.count;
    if (s.first_lines.size() < opt_.max_examples) s.first_lines.push_back(line);
  }
  void record(std::string_view text, std::int64_t line_no, bool repaired);
  bool header(std::string_view text, std::int64_t line_no);

  std::string path_;
  ReadOptions opt_;
  ReviewFile out_;
  Format format_ = Format::kUnknown;
  std::array<int, kFieldCount> columns_{};
  std::size_t header_width_ = 0;
  std::vector<std::string> cells_;
  std::string pending_;  // a CSV record whose quoted field continues on the next line
  std::int64_t pending_line_ = 0;
  bool pending_repaired_ = false;
};

// Handles the first meaningful line: detects the format; for TSV/CSV reads the header.
bool FileReader::header(std::string_view text, std::int64_t line_no) {
  format_ = detect_format(path_, text, line_no);
  out_.report.format = format_name(format_);
  if (format_ != Format::kTsv && format_ != Format::kCsv) return false;
  const char delim = format_ == Format::kTsv ? '\t' : ',';
  if (split_delimited(text, delim, format_ == Format::kTsv, cells_) != SplitStatus::kOk) {
    throw InputError(path_, line_no, "malformed quoting in the header line");
  }
  columns_ = parse_header(path_, line_no, cells_);
  header_width_ = cells_.size();
  return true;
}

void FileReader::record(std::string_view text, std::int64_t line_no, bool repaired) {
  Fields fields;
  if (format_ == Format::kJson || format_ == Format::kPython) {
    const std::string_view t = trim(text);
    if (format_ == Format::kJson) {
      FieldSax sax(fields);
      if (!nlohmann::json::sax_parse(t, &sax)) return problem(kSkipMalformed, line_no, sax.error());
      if (!sax.top_is_object()) return problem(kSkipMalformed, line_no, "not a JSON object");
    } else {
      nlohmann::json obj;
      const PyLiteralResult res = parse_python_literal(t, obj);
      if (!res.ok) return problem(kSkipMalformed, line_no, res.error);
      if (!obj.is_object()) return problem(kSkipMalformed, line_no, "not a dict");
      repaired = repaired || res.repaired;
      fields_from_json(obj, fields);
    }
  } else {
    const char delim = format_ == Format::kTsv ? '\t' : ',';
    if (split_delimited(text, delim, format_ == Format::kTsv, cells_) != SplitStatus::kOk) {
      return problem(kSkipMalformed, line_no, "malformed CSV quoting");
    }
    if (cells_.size() != header_width_) {
      return problem(kSkipMalformed, line_no,
                     "expected " + std::to_string(header_width_) + " fields, found " +
                         std::to_string(cells_.size()));
    }
    for (int f = 0; f < kFieldCount; ++f) {
      if (columns_[f] < 0) continue;
      fields[f].kind = FieldValue::kString;
      fields[f].text = std::move(cells_[columns_[f]]);
    }
  }
  Review r;
  if (const Problem p = build_review(fields, opt_, r); p.reason) {
    return problem(p.reason, line_no, p.detail);
  }
  r.line = line_no;
  r.utf8_repaired = repaired;
  out_.reviews.push_back(std::move(r));
}

ReviewFile FileReader::run() {
  LineReaderOptions lo;
  lo.max_line_bytes = opt_.max_line_bytes;
  LineReader reader(path_, lo);
  // Only files that take a noticeable time to read get a bar.
  Progress progress("read " + path_.substr(path_.find_last_of('/') + 1),
                    static_cast<std::int64_t>(reader.file_size()), reader.file_size() > (8u << 20));
  std::uint64_t shown = 0;
  ReadReport& rep = out_.report;
  InputLine line;
  std::string repaired_text;
  while (reader.next(line)) {
    if ((line.number & 4095) == 0) {
      progress.advance(static_cast<std::int64_t>(reader.file_bytes_read() - shown));
      shown = reader.file_bytes_read();
    }
    if (line.number == 1 && line.text.compare(0, 3, "\xEF\xBB\xBF") == 0) line.text.erase(0, 3);
    if (line.too_long) {
      // Inside a multi-line CSV record the whole record is lost; it was counted already.
      if (pending_.empty()) ++rep.lines;
      pending_.clear();
      problem(kSkipLineTooLong, line.number,
              std::to_string(line.length) + " bytes; the limit is " +
                  std::to_string(opt_.max_line_bytes) + " (--max-line-bytes)");
      continue;
    }
    if (pending_.empty() && is_blank(line.text)) continue;
    std::string_view text = line.text;
    bool repaired = false;
    const std::size_t bad = utf8_invalid_offset(text);
    if (bad != text.size()) {
      if (opt_.strict || opt_.invalid_utf8 == Utf8Policy::kSkip) {
        if (pending_.empty()) ++rep.lines;
        pending_.clear();
        problem(kSkipInvalidUtf8, line.number,
                "ill-formed byte sequence at byte " + std::to_string(bad + 1));
        continue;
      }
      repaired_text = utf8_repair(text);
      text = repaired_text;
      repaired = true;
    }
    if (format_ == Format::kUnknown) {
      if (header(text, line.number)) continue;
    }
    if (format_ == Format::kCsv) {
      // A quoted CSV field may span lines: collect until the quotes balance.
      if (pending_.empty()) {
        ++rep.lines;
        pending_line_ = line.number;
        pending_repaired_ = false;
        pending_.assign(text);
      } else {
        pending_ += '\n';
        pending_.append(text);
      }
      pending_repaired_ = pending_repaired_ || repaired;
      if (split_delimited(pending_, ',', false, cells_) == SplitStatus::kUnclosedQuote) {
        if (pending_.size() <= opt_.max_line_bytes) continue;
        problem(kSkipMalformed, pending_line_, "quoted field is never closed");
        pending_.clear();
        continue;
      }
      record(pending_, pending_line_, pending_repaired_);
      pending_.clear();
      continue;
    }
    ++rep.lines;
    record(text, line.number, repaired);
  }
  if (!pending_.empty()) problem(kSkipMalformed, pending_line_, "quoted field is never closed");
  if (reader.end() == StreamEnd::kTruncated || reader.end() == StreamEnd::kCorrupt) {
    if (opt_.strict) reader.throw_if_damaged();
    ++rep.lines;  // the cut-off rest counts as one lost line, so that the accounting adds up
    problem(kSkipTruncatedGzip, reader.last_complete_line(), reader.damage());
    log_warn(path_ + ": " + reader.damage() + "; kept the " +
             std::to_string(reader.last_complete_line()) + " complete lines before it");
  }
  progress.advance(static_cast<std::int64_t>(reader.file_bytes_read() - shown));
  progress.finish();
  if (format_ == Format::kUnknown) rep.format = "empty";
  rep.duplicates_dropped = apply_duplicate_policy(out_.reviews, opt_.duplicates);
  rep.repeated_texts_dropped = apply_repeated_text_policy(out_.reviews, opt_.repeated_texts);
  rep.kept = static_cast<std::int64_t>(out_.reviews.size());
  for (const Review& r : out_.reviews) {
    rep.empty_text += r.empty_text ? 1 : 0;
    rep.utf8_repaired += r.utf8_repaired ? 1 : 0;
  }
  return std::move(out_);
}

template <typename E>
E from_name(const std::string& name, const char* what,
            std::initializer_list<std::pair<const char*, E>> table) {
  std::string names;
  for (const auto& [n, v] : table) {
    if (name == n) return v;
    names += (names.empty() ? "" : ", ") + std::string(n);
  }
  throw UsageError("unknown " + std::string(what) + " '" + name + "' (expected one of: " + names +
                   ")");
}

}  // namespace

ReviewFile read_reviews(const std::string& path, const ReadOptions& options) {
  if (options.max_line_bytes == 0) throw UsageError("max_line_bytes must be positive");
  return FileReader(path, options).run();
}

TextFields text_fields_from_name(const std::string& name) {
  return from_name<TextFields>(name, "text fields",
                               {{"summary+review", TextFields::kSummaryAndReview},
                                {"review", TextFields::kReviewOnly},
                                {"summary", TextFields::kSummaryOnly}});
}

DuplicatePolicy duplicate_policy_from_name(const std::string& name) {
  return from_name<DuplicatePolicy>(name, "duplicate policy",
                                    {{"latest", DuplicatePolicy::kKeepLatest},
                                     {"first", DuplicatePolicy::kKeepFirst},
                                     {"all", DuplicatePolicy::kKeepAll}});
}

Utf8Policy utf8_policy_from_name(const std::string& name) {
  return from_name<Utf8Policy>(name, "invalid UTF-8 policy",
                               {{"repair", Utf8Policy::kRepair}, {"skip", Utf8Policy::kSkip}});
}

RepeatedTextPolicy repeated_text_policy_from_name(const std::string& name) {
  return from_name<RepeatedTextPolicy>(
      name, "repeated-text policy",
      {{"keep", RepeatedTextPolicy::kKeep}, {"drop", RepeatedTextPolicy::kDrop}});
}

std::string name_of(TextFields v) {
  switch (v) {
    case TextFields::kSummaryAndReview:
      return "summary+review";
    case TextFields::kReviewOnly:
      return "review";
    case TextFields::kSummaryOnly:
      return "summary";
  }
  return "?";
}

std::string name_of(DuplicatePolicy v) {
  switch (v) {
    case DuplicatePolicy::kKeepLatest:
      return "latest";
    case DuplicatePolicy::kKeepFirst:
      return "first";
    case DuplicatePolicy::kKeepAll:
      return "all";
  }
  return "?";
}

std::string name_of(Utf8Policy v) {
  return v == Utf8Policy::kRepair ? "repair" : "skip";
}

std::string name_of(RepeatedTextPolicy v) {
  return v == RepeatedTextPolicy::kKeep ? "keep" : "drop";
}

}  // namespace loid
