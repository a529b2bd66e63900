// Word documents and pretrained word vectors for the review-text baselines (see word_docs.h).
#include "rec/word_docs.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "core/error.h"
#include "core/fs.h"

namespace loid {

namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

}  // namespace

std::vector<std::string> word_tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (is_word_byte(c)) {
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a')
                                          : static_cast<char>(c));
    } else if (c == '\'' && !word.empty() && i + 1 < n &&
               is_word_byte(static_cast<unsigned char>(text[i + 1]))) {
      word.push_back('\'');
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

WordDocuments::WordDocuments(const Dataset& dataset, const Split& split,
                             const WordDocOptions& options)
    : options_(options), history_(dataset, split) {
  if (options.doc_length < 1) throw UsageError("word documents: doc_length must be >= 1");
  if (options.min_count < 1) throw UsageError("word documents: min_count must be >= 1");
  if (options.max_vocab < 1) throw UsageError("word documents: max_vocab must be >= 1");
  review_user_ = dataset.review_users();
  review_item_ = dataset.review_items();

  // Only training reviews are tokenised; their words alone make the vocabulary.
  std::vector<std::vector<std::string>> words_of(split.train.size());
  std::unordered_map<std::string, std::int64_t> counts;
  for (std::size_t k = 0; k < split.train.size(); ++k) {
    words_of[k] = word_tokens(dataset.review(split.train[k]).text);
    for (const auto& w : words_of[k]) ++counts[w];
  }
  std::vector<std::pair<std::string, std::int64_t>> ranked;
  for (auto& [w, c] : counts)
    if (c >= options.min_count) ranked.emplace_back(w, c);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (static_cast<std::int64_t>(ranked.size()) > options.max_vocab)
    ranked.resize(static_cast<std::size_t>(options.max_vocab));
  words_ = {"<pad>", "<unk>"};
  for (auto& [w, c] : ranked) words_.push_back(w);
  for (std::size_t i = 0; i < words_.size(); ++i)
    ids_.emplace(words_[i], static_cast<std::int64_t>(i));

  tokens_.assign(static_cast<std::size_t>(dataset.num_reviews()), {});
  for (std::size_t k = 0; k < split.train.size(); ++k) {
    auto& t = tokens_[static_cast<std::size_t>(split.train[k])];
    t.reserve(words_of[k].size());
    for (const auto& w : words_of[k]) {
      const auto it = ids_.find(w);
      t.push_back(it == ids_.end() || it->second < 2 ? kUnkToken
                                                     : static_cast<std::int32_t>(it->second));
    }
  }
}

std::int64_t WordDocuments::id(const std::string& word) const {
  const auto it = ids_.find(word);
  return it == ids_.end() ? -1 : it->second;
}

const std::vector<std::int32_t>& WordDocuments::review_tokens(std::int64_t review_id) const {
  if (review_id < 0 || review_id >= static_cast<std::int64_t>(tokens_.size()))
    throw UsageError("word documents: review " + std::to_string(review_id) + " out of range");
  return tokens_[static_cast<std::size_t>(review_id)];
}

std::vector<std::int32_t> WordDocuments::document(const std::vector<std::int64_t>& history,
                                                  std::int64_t exclude) const {
  std::vector<std::int32_t> doc;
  const auto limit = static_cast<std::size_t>(options_.doc_length);
  for (std::int64_t r : history) {
    if (r == exclude) continue;
    const auto& t = tokens_[static_cast<std::size_t>(r)];
    const std::size_t take = std::min(t.size(), limit - doc.size());
    doc.insert(doc.end(), t.begin(), t.begin() + static_cast<std::ptrdiff_t>(take));
    if (doc.size() >= limit) break;
  }
  return doc;
}

std::vector<std::int32_t> WordDocuments::user_document(std::int64_t review_id) const {
  review_tokens(review_id);  // range check
  return document(history_.user_history(review_user_[static_cast<std::size_t>(review_id)]),
                  review_id);
}

std::vector<std::int32_t> WordDocuments::item_document(std::int64_t review_id) const {
  review_tokens(review_id);
  return document(history_.item_history(review_item_[static_cast<std::size_t>(review_id)]),
                  review_id);
}

// ---- word vectors ----------------------------------------------------------------------------

namespace {

// A one-pass JSON reader over a whole file held in memory, just enough for word-vector files:
// strings, numbers, arrays and objects, with values that are not needed skipped unparsed.
class JsonScanner {
 public:
  JsonScanner(std::string path, const std::string& text) : path_(std::move(path)), s_(text) {}

  [[noreturn]] void fail(const std::string& problem) const {
    throw InputError(path_, line_, problem + " (byte " + std::to_string(pos_) + ")");
  }
  std::int64_t line() const { return line_; }
  std::size_t pos() const { return pos_; }

  void skip_ws() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '\n')
        ++line_;
      else if (c != ' ' && c != '\t' && c != '\r')
        break;
      ++pos_;
    }
  }
  char peek() {
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end of file");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  bool at_end() {
    skip_ws();
    return pos_ >= s_.size();
  }
  // After an element: true when another follows (','), false at `close`.
  bool next_or_close(char close) {
    const char c = peek();
    ++pos_;
    if (c == ',') return true;
    if (c == close) return false;
    --pos_;
    fail(std::string("expected ',' or '") + close + "'");
  }

  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character inside a string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u':
          append_utf8(out, code_point());
          break;
        default:
          fail(std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  // A number's text (validated by from_chars when parsed; only scanned when skipped).
  std::string_view number_text() {
    skip_ws();
    const std::size_t start = pos_;
    while (pos_ < s_.size() && std::strchr("+-0123456789.eE", s_[pos_]) != nullptr &&
           s_[pos_] != '\0')
      ++pos_;
    if (pos_ == start) fail("expected a number");
    return std::string_view(s_).substr(start, pos_ - start);
  }
  float number() {
    const std::string_view t = number_text();
    float v = 0.0f;
    const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
    if (r.ec != std::errc() || r.ptr != t.data() + t.size())
      fail("malformed number '" + std::string(t) + "'");
    return v;
  }
  bool number_next() {
    const char c = peek();
    return c == '-' || (c >= '0' && c <= '9');
  }

  void skip_value() {
    const char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{') {
      ++pos_;
      if (peek() == '}') {
        ++pos_;
        return;
      }
      do {
        string();
        expect(':');
        skip_value();
      } while (next_or_close('}'));
    } else if (c == '[') {
      ++pos_;
      if (peek() == ']') {
        ++pos_;
        return;
      }
      do skip_value();
      while (next_or_close(']'));
    } else if (number_next()) {
      number_text();
    } else {
      for (const char* lit : {"true", "false", "null"}) {
        const std::size_t n = std::strlen(lit);
        if (s_.compare(pos_, n, lit) == 0) {
          pos_ += n;
          return;
        }
      }
      fail("unexpected character '" + std::string(1, c) + "'");
    }
  }

 private:
  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= static_cast<unsigned>(h - 'A' + 10);
      else
        fail("invalid \\u escape");
    }
    return v;
  }
  unsigned code_point() {
    unsigned cp = hex4();
    if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(pos_, 2, "\\u") == 0) {
      pos_ += 2;
      const unsigned lo = hex4();
      if (lo < 0xDC00 || lo >= 0xE000) fail("unpaired surrogate in \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xD800 && cp < 0xE000) {
      cp = 0xFFFD;
    }
    return cp;
  }
  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string path_;
  const std::string& s_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
};

// Collects the vectors of vocabulary words from one {"word": [numbers], ...} object.
class VectorSink {
 public:
  VectorSink(const std::vector<std::string>& vocabulary, std::int64_t dimensions)
      : dims_(dimensions) {
    for (std::size_t i = 0; i < vocabulary.size(); ++i)
      index_.emplace(vocabulary[i], static_cast<std::int64_t>(i));
    present_.assign(vocabulary.size(), 0);
  }

  // Reads the object at the scanner (its '{' not yet consumed). `exact`: every vector must have
  // exactly the dimension (flat layout); otherwise at least it, extras ignored (wink layout).
  void read_object(JsonScanner& in, bool exact) {
    in.expect('{');
    if (in.peek() == '}') {
      in.expect('}');
      return;
    }
    do {
      const std::string word = in.string();
      in.expect(':');
      read_vector(in, word, exact);
    } while (in.next_or_close('}'));
  }

  WordVectors finish(const std::string& path) {
    if (entries_ == 0) throw InputError(path, 0, "no word vectors found");
    WordVectors out;
    out.dimensions = dims_;
    out.present = present_;
    out.rows.assign(present_.size() * static_cast<std::size_t>(dims_), 0.0f);
    for (auto& [id, v] : vectors_) {
      std::copy(v.begin(), v.begin() + dims_, out.rows.begin() + id * dims_);
      ++out.found;
    }
    return out;
  }

 private:
  void read_vector(JsonScanner& in, const std::string& word, bool exact) {
    const std::int64_t line = in.line();
    if (in.peek() != '[') in.fail("the value of \"" + word + "\" is not an array of numbers");
    in.expect('[');
    const auto it = index_.find(word);
    const bool keep = it != index_.end() && !present_[static_cast<std::size_t>(it->second)];
    std::vector<float> v;
    std::int64_t n = 0;
    if (in.peek() != ']') {
      do {
        if (!in.number_next())
          in.fail("the vector of \"" + word + "\" holds something other than a number");
        if (keep)
          v.push_back(in.number());
        else
          in.number_text();
        ++n;
      } while (in.next_or_close(']'));
    } else {
      in.expect(']');
    }
    if (dims_ == 0) dims_ = n;
    if (n == 0 || (exact ? n != dims_ : n < dims_)) {
      in.fail("the vector of \"" + word + "\" (from line " + std::to_string(line) + ") has " +
              std::to_string(n) + " numbers, expected " + (exact ? "" : "at least ") +
              std::to_string(dims_));
    }
    ++entries_;
    if (keep) {
      present_[static_cast<std::size_t>(it->second)] = 1;
      vectors_.emplace_back(it->second, std::move(v));
    }
  }

  std::int64_t dims_;
  std::int64_t entries_ = 0;
  std::unordered_map<std::string, std::int64_t> index_;
  std::vector<std::uint8_t> present_;
  std::vector<std::pair<std::int64_t, std::vector<float>>> vectors_;
};

}  // namespace

WordVectors load_word_vectors(const std::string& path, const std::vector<std::string>& vocabulary) {
  const std::string text = read_file(path);
  JsonScanner in(path, text);
  if (in.at_end()) throw InputError(path, 0, "empty word-vector file");
  if (in.peek() != '{') in.fail("a word-vector file must hold one JSON object");

  // Peek at the first key to choose the layout: the wink layout starts with its metadata
  // ("precision", "dimensions", ...) and keeps the vectors under "vectors".
  bool nested = false;
  {
    JsonScanner probe(path, text);
    probe.expect('{');
    while (probe.peek() != '}') {
      const std::string key = probe.string();
      probe.expect(':');
      if (key == "vectors" && probe.peek() == '{') {
        nested = true;
        break;
      }
      if (probe.peek() == '[') {  // a flat layout's first word vector, or a wink "words" list
        JsonScanner inner = probe;
        inner.expect('[');
        if (inner.peek() != '"') break;
      }
      probe.skip_value();
      if (!probe.next_or_close('}')) break;
    }
  }

  if (!nested) {
    VectorSink sink(vocabulary, 0);
    sink.read_object(in, true);
    if (!in.at_end()) in.fail("unexpected text after the JSON object");
    return sink.finish(path);
  }

  std::int64_t dims = 0;
  std::optional<VectorSink> sink;
  in.expect('{');
  do {
    const std::string key = in.string();
    in.expect(':');
    if (key == "dimensions" && in.number_next()) {
      const float d = in.number();
      if (d < 1 || d != static_cast<float>(static_cast<std::int64_t>(d)))
        in.fail("\"dimensions\" must be a positive whole number");
      dims = static_cast<std::int64_t>(d);
    } else if (key == "vectors" && !sink) {
      sink.emplace(vocabulary, dims);
      sink->read_object(in, false);
    } else {
      in.skip_value();
    }
  } while (in.next_or_close('}'));
  if (!in.at_end()) in.fail("unexpected text after the JSON object");
  return sink->finish(path);
}

}  // namespace loid
