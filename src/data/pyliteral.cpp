// Recursive-descent parser for Python literal lines. Depth is bounded so that hostile input cannot
// exhaust the stack.
#include "data/pyliteral.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "data/utf8_repair.h"

namespace loid {

namespace {

constexpr int kMaxDepth = 64;

enum class EscapeMode { kCodePoint, kByte };

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  PyLiteralResult run(nlohmann::json& out) {
    PyLiteralResult r;
    skip_ws();
    if (!value(out, 0)) {
      r.error = error_ + " at byte " + std::to_string(pos_ + 1);
      return r;
    }
    skip_ws();
    if (pos_ != s_.size()) {
      r.error = "unexpected text after the literal at byte " + std::to_string(pos_ + 1);
      return r;
    }
    r.ok = true;
    r.repaired = repaired_;
    return r;
  }

 private:
  bool fail(const std::string& what) {
    if (error_.empty()) error_ = what;
    return false;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void skip_ws() {
    while (!at_end() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n'))
      ++pos_;
  }
  bool word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    const std::size_t end = pos_ + w.size();
    if (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_'))
      return false;
    pos_ = end;
    return true;
  }

  bool value(nlohmann::json& out, int depth) {
    if (depth > kMaxDepth) return fail("nesting deeper than " + std::to_string(kMaxDepth));
    skip_ws();
    if (at_end()) return fail("unexpected end of line");
    const char c = peek();
    if (c == '{') return dict(out, depth);
    if (c == '[') return sequence(out, depth, ']');
    if (c == '(') return sequence(out, depth, ')');
    if (c == '\'' || c == '"') return string(out, "");
    if (c == 'u' || c == 'U' || c == 'b' || c == 'B' || c == 'r' || c == 'R') {
      // A string prefix is at most two letters followed by a quote.
      std::size_t k = pos_;
      while (k < s_.size() && k - pos_ < 2 && std::isalpha(static_cast<unsigned char>(s_[k]))) ++k;
      if (k < s_.size() && (s_[k] == '\'' || s_[k] == '"')) {
        std::string prefix(s_.substr(pos_, k - pos_));
        for (auto& ch : prefix)
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        pos_ = k;
        return string(out, prefix);
      }
    }
    if (word("True")) return out = true, true;
    if (word("False")) return out = false, true;
    if (word("None")) return out = nullptr, true;
    if (c == '-' || c == '+' || c == '.' || std::isdigit(static_cast<unsigned char>(c)))
      return number(out);
    return fail(std::string("unexpected character '") + c + "'");
  }

  bool dict(nlohmann::json& out, int depth) {
    ++pos_;  // '{'
    out = nlohmann::json::object();
    for (;;) {
      skip_ws();
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      nlohmann::json key;
      if (!value(key, depth + 1)) return false;
      skip_ws();
      if (peek() != ':') return fail("expected ':' after a dict key");
      ++pos_;
      nlohmann::json val;
      if (!value(val, depth + 1)) return false;
      out[key.is_string() ? key.get<std::string>() : key.dump()] = std::move(val);
      skip_ws();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        return fail("expected ',' or '}' in a dict");
      }
    }
  }

  bool sequence(nlohmann::json& out, int depth, char close) {
    ++pos_;  // '[' or '('
    out = nlohmann::json::array();
    for (;;) {
      skip_ws();
      if (peek() == close) {
        ++pos_;
        return true;
      }
      nlohmann::json val;
      if (!value(val, depth + 1)) return false;
      out.push_back(std::move(val));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != close) {
        return fail(std::string("expected ',' or '") + close + "'");
      }
    }
  }

  bool number(nlohmann::json& out) {
    const std::size_t start = pos_;
    if (peek() == '-' || peek() == '+') ++pos_;
    bool is_float = false;
    while (!at_end()) {
      const char c = s_[pos_];
      if (std::isdigit(static_cast<unsigned char>(c)) || c == '_') {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E') {
        is_float = true;
        ++pos_;
        if ((c == 'e' || c == 'E') && (peek() == '-' || peek() == '+')) ++pos_;
      } else {
        break;
      }
    }
    std::string text;
    for (std::size_t i = start; i < pos_; ++i)
      if (s_[i] != '_') text += s_[i];
    if (text.empty() || text == "-" || text == "+") return fail("malformed number");
    char* end = nullptr;
    errno = 0;
    if (!is_float) {
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (*end == '\0' && errno == 0) return out = static_cast<std::int64_t>(v), true;
      errno = 0;  // too large for int64: keep it as a double, as JSON readers do
    }
    const double d = std::strtod(text.c_str(), &end);
    if (*end != '\0') return fail("malformed number '" + text + "'");
    out = d;
    return true;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Reads `digits` hex digits at pos_; -1 when malformed.
  long hex(int digits) {
    long v = 0;
    for (int i = 0; i < digits; ++i) {
      const int h = pos_ < s_.size() ? hex_value(s_[pos_]) : -1;
      if (h < 0) return -1;
      v = v * 16 + h;
      ++pos_;
    }
    return v;
  }

  bool string(nlohmann::json& out, const std::string& prefix) {
    const bool raw = prefix.find('r') != std::string::npos;
    const bool bytes = prefix.find('b') != std::string::npos;
    const bool unicode = prefix.find('u') != std::string::npos;
    const std::size_t start = pos_;
    std::string text;
    bool high_escape = false;
    const EscapeMode first = unicode ? EscapeMode::kCodePoint : EscapeMode::kByte;
    if (!string_body(text, raw, first, bytes, &high_escape)) return false;
    if (!unicode && !bytes && high_escape && !utf8_valid(text)) {
      // Not a Python 2 byte string after all: read \xhh as code points (Python 3 str repr).
      const std::size_t end = pos_;
      pos_ = start;
      text.clear();
      if (!string_body(text, raw, EscapeMode::kCodePoint, false, &high_escape)) return false;
      pos_ = end;
    }
    if (!utf8_valid(text)) {
      text = utf8_repair(text);
      repaired_ = true;
    }
    out = std::move(text);
    return true;
  }

  bool string_body(std::string& text, bool raw, EscapeMode mode, bool is_bytes, bool* high_escape) {
    const char quote = s_[pos_++];
    for (;;) {
      if (at_end()) return fail("unterminated string");
      const char c = s_[pos_++];
      if (c == quote) return true;
      if (c != '\\') {
        text += c;
        continue;
      }
      if (at_end()) return fail("unterminated string");
      const char e = s_[pos_++];
      if (raw) {  // raw strings keep the backslash; it only protects the quote
        text += '\\';
        text += e;
        continue;
      }
      switch (e) {
        case '\\':
          text += '\\';
          break;
        case '\'':
          text += '\'';
          break;
        case '"':
          text += '"';
          break;
        case 'a':
          text += '\a';
          break;
        case 'b':
          text += '\b';
          break;
        case 'f':
          text += '\f';
          break;
        case 'n':
          text += '\n';
          break;
        case 'r':
          text += '\r';
          break;
        case 't':
          text += '\t';
          break;
        case 'v':
          text += '\v';
          break;
        case 'x': {
          const long v = hex(2);
          if (v < 0) return fail("malformed \\x escape");
          put_small(text, v, mode, high_escape);
          break;
        }
        case 'u':
        case 'U': {
          if (is_bytes) {  // bytes literals have no \\u escape
            text += '\\';
            text += e;
            break;
          }
          const long v = hex(e == 'u' ? 4 : 8);
          if (v < 0) return fail(std::string("malformed \\") + e + " escape");
          put_code_point(text, static_cast<char32_t>(v));
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            long v = e - '0';
            for (int i = 0; i < 2 && !at_end() && s_[pos_] >= '0' && s_[pos_] <= '7'; ++i)
              v = v * 8 + (s_[pos_++] - '0');
            put_small(text, v, mode, high_escape);
          } else {  // Python keeps unknown escapes (and \N{...}) as written
            text += '\\';
            text += e;
          }
      }
    }
  }

  // \xhh and octal escapes: one byte, or one code point.
  static void put_small(std::string& text, long v, EscapeMode mode, bool* high_escape) {
    if (v >= 0x80) *high_escape = true;
    if (mode == EscapeMode::kByte) {
      text += static_cast<char>(v & 0xFF);
    } else {
      utf8_append(text, static_cast<char32_t>(v));
    }
  }

  // \u and \U escapes; joins a UTF-16 surrogate pair written as two escapes (Python 2 narrow
  // builds); a lone surrogate becomes U+FFFD via utf8_append.
  void put_code_point(std::string& text, char32_t cp) {
    if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
      const std::size_t save = pos_;
      pos_ += 2;
      const long lo = hex(4);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        utf8_append(text, 0x10000 + ((cp - 0xD800) << 10) + (static_cast<char32_t>(lo) - 0xDC00));
        return;
      }
      pos_ = save;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) repaired_ = true;
    utf8_append(text, cp);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
  bool repaired_ = false;
};

}  // namespace

PyLiteralResult parse_python_literal(std::string_view text, nlohmann::json& out) {
  return Parser(text).run(out);
}

}  // namespace loid
