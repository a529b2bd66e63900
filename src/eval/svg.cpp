#include "eval/svg.h"

#include <array>
#include <charconv>
#include <cmath>

#include "core/error.h"
#include "data/utf8_repair.h"

namespace loid {

namespace {
const char kReplacementUtf8[] = "\xEF\xBF\xBD";  // U+FFFD

bool continuation(unsigned char b) {
  return (b & 0xC0) == 0x80;
}

// Bytes of the well-formed UTF-8 sequence led by `lead` (input already repaired).
std::size_t sequence_length(unsigned char lead) {
  return lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}
}  // namespace

std::string xml_escape(const std::string& raw) {
  // Ill-formed UTF-8 becomes U+FFFD by the reader's policy; what is left to refuse is what XML 1.0
  // forbids among well-formed text: control bytes and the non-characters U+FFFE and U+FFFF.
  const std::string s = utf8_repair(raw);
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = sequence_length(c);
      const bool nonchar = n == 3 && c == 0xEF && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
                           (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xBE;
      if (nonchar) {
        out += kReplacementUtf8;
      } else {
        out.append(s, i, n);
      }
      i += n;
      continue;
    }
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
        out += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += static_cast<char>(c);
        break;
      default:
        if (c < 0x20) {
          out += kReplacementUtf8;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

std::string format_number(double x, int digits) {
  if (digits < 0 || digits > 30) {
    throw UsageError("format_number: digits must be in 0..30, got " + std::to_string(digits));
  }
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  // std::to_chars ignores the locale (printf and iostreams would follow LC_NUMERIC). The largest
  // double has 309 integer digits.
  std::array<char, 400> buf;
  const auto res =
      std::to_chars(buf.data(), buf.data() + buf.size(), x, std::chars_format::fixed, digits);
  std::string out(buf.data(), res.ptr);
  if (!out.empty() && out[0] == '-' && out.find_first_not_of("-0.") == std::string::npos) {
    out.erase(0, 1);
  }
  return out;
}

std::string format_finite(double x, int digits) {
  return std::isfinite(x) ? format_number(x, digits) : std::string("n/a");
}

std::string truncate_utf8(const std::string& s, std::size_t max_chars) {
  if (max_chars == 0) throw UsageError("truncate_utf8: max_chars must be at least 1");
  if (utf8_length(s) <= max_chars) return s;
  std::size_t kept = 0, end = 0;
  for (; end < s.size(); ++end) {
    if (!continuation(static_cast<unsigned char>(s[end]))) {
      if (kept == max_chars - 1) break;
      ++kept;
    }
  }
  return s.substr(0, end) + "\xE2\x80\xA6";  // U+2026 horizontal ellipsis
}

std::string px(double v) {
  return format_number(v, 2);
}

SvgWriter::SvgWriter(double width, double height) {
  out_ = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + px(width) + "\" height=\"" +
         px(height) + "\" viewBox=\"0 0 " + px(width) + " " + px(height) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
}

void SvgWriter::start_tag(const std::string& tag, const Attrs& attrs) {
  out_ += "<" + tag;
  for (const auto& [name, value] : attrs) out_ += " " + name + "=\"" + xml_escape(value) + "\"";
}

void SvgWriter::open(const std::string& tag, const Attrs& attrs) {
  start_tag(tag, attrs);
  out_ += ">\n";
  open_.push_back(tag);
}

void SvgWriter::close() {
  if (open_.empty()) throw UsageError("SvgWriter::close: no element is open");
  out_ += "</" + open_.back() + ">\n";
  open_.pop_back();
}

void SvgWriter::element(const std::string& tag, const Attrs& attrs) {
  start_tag(tag, attrs);
  out_ += "/>\n";
}

void SvgWriter::element(const std::string& tag, const Attrs& attrs, const std::string& text,
                        const std::string& tooltip) {
  start_tag(tag, attrs);
  out_ += ">";
  if (!tooltip.empty()) out_ += "<title>" + xml_escape(tooltip) + "</title>";
  out_ += xml_escape(text) + "</" + tag + ">\n";
}

std::string SvgWriter::finish() {
  while (!open_.empty()) close();
  std::string doc = std::move(out_);
  doc += "</svg>\n";
  out_.clear();
  return doc;
}

}  // namespace loid
