// SVG building blocks for the run-report charts (report.h): XML escaping that keeps any label
// well-formed, locale-independent fixed-precision numbers, and a writer that balances its tags.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "data/utf8_repair.h"  // utf8_length

namespace loid {

// `s` with & < > " ' replaced by entities, safe in both element text and attribute values. Labels
// are user data (item names, file names), so bytes XML 1.0 forbids (control characters other than
// tab, newline and carriage return, U+FFFE/U+FFFF) become U+FFFD, and ill-formed UTF-8 is repaired
// as utf8_repair() does (one U+FFFD per maximal ill-formed subpart).
std::string xml_escape(const std::string& s);

// x in fixed notation with `digits` decimals (0..30), the same in every locale; "nan", "inf" and
// "-inf" for the non-finite values; a result that rounds to zero has no minus sign ("0.00", never
// "-0.00"). Throws UsageError for digits outside 0..30.
std::string format_number(double x, int digits);

// format_number(x, digits) for finite x, "n/a" otherwise (tables of metrics that may be missing).
std::string format_finite(double x, int digits);

// The first max_chars - 1 code points of `s` followed by "…" when `s` has more than max_chars code
// points (max_chars >= 1); `s` itself otherwise. Never splits a multi-byte sequence.
std::string truncate_utf8(const std::string& s, std::size_t max_chars);

// A coordinate or length in pixels as SVG text: format_number(v, 2).
std::string px(double v);

// Accumulates one SVG document. Attribute values and element text are escaped here, so callers
// pass raw strings; tag and attribute names are the caller's constants.
class SvgWriter {
 public:
  using Attrs = std::vector<std::pair<std::string, std::string>>;

  // Opens the root <svg> element: width x height pixels, sans-serif 12 px text.
  SvgWriter(double width, double height);

  void open(const std::string& tag, const Attrs& attrs);  // <tag ...>, closed by close()
  void close();  // closes the innermost element open()ed; UsageError when none is
  void element(const std::string& tag, const Attrs& attrs);  // <tag .../>
  // <tag ...>text</tag>; a non-empty `tooltip` becomes a <title> child (shown on hover).
  void element(const std::string& tag, const Attrs& attrs, const std::string& text,
               const std::string& tooltip = "");

  // The document, with every element still open closed (the root last).
  std::string finish();

 private:
  void start_tag(const std::string& tag, const Attrs& attrs);

  std::string out_;
  std::vector<std::string> open_;  // tags open()ed, innermost last (the root not included)
};

}  // namespace loid
