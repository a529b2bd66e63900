// Report rendering: documents are well-formed (checked by a small tag-nesting parser below, itself
// tested on broken input), user text is escaped, ticks match hand-worked ranges, and charts draw
// exactly the finite points, markers and cells they are given.
#include "eval/report.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <locale>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "support/error_of.h"

namespace loid {
namespace {

using ::loid::testing::error_of;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// "" when `doc` is one well-formed element tree, else the first problem: every opened tag closed in
// order, attribute values quoted, '<' only starting tags, '>' only ending them (our escaping turns
// every other one into &gt;), '&' only starting one of the five predefined entities.
std::string xml_problem(const std::string& doc) {
  static const std::regex entity("^&(amp|lt|gt|quot|apos);");
  for (std::size_t i = doc.find('&'); i != std::string::npos; i = doc.find('&', i + 1)) {
    if (!std::regex_search(doc.substr(i, 8), entity)) return "bad '&' at " + std::to_string(i);
  }
  std::vector<std::string> open;
  int roots = 0;
  for (std::size_t i = 0; i < doc.size();) {
    const char c = doc[i];
    if (c == '>') return "raw '>' in text at " + std::to_string(i);
    if (c != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(c))) {
        return "text outside the root at " + std::to_string(i);
      }
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < doc.size(); ++j) {
      const char d = doc[j];
      if (d == '<') return "'<' inside a tag at " + std::to_string(j);
      if (quote) {
        if (d == quote) quote = 0;
      } else if (d == '"' || d == '\'') {
        if (doc[j - 1] != '=') return "quote not after '=' at " + std::to_string(j);
        quote = d;
      } else if (d == '>') {
        break;
      } else if (d == '=' && doc[j + 1] != '"' && doc[j + 1] != '\'') {
        return "unquoted attribute at " + std::to_string(j);
      }
    }
    if (j == doc.size()) return "unterminated tag at " + std::to_string(i);
    const std::string tag = doc.substr(i + 1, j - i - 1);
    if (!tag.empty() && tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) {
        return "</" + name + "> closes <" + (open.empty() ? "" : open.back()) + ">";
      }
      open.pop_back();
    } else {
      const std::size_t end = tag.find_first_of(" \t\n/");
      const std::string name = tag.substr(0, end);
      if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) {
        return "bad tag name at " + std::to_string(i);
      }
      if (open.empty() && ++roots > 1) return "a second root element <" + name + ">";
      if (tag.back() != '/') open.push_back(name);
    }
    i = j + 1;
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  return roots == 1 ? "" : "no root element";
}

std::size_t count(const std::string& doc, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t i = doc.find(what); i != std::string::npos; i = doc.find(what, i + 1)) ++n;
  return n;
}

// The text of every element whose class is `cls`, in document order.
std::vector<std::string> texts_of(const std::string& doc, const std::string& cls) {
  const std::regex re("class=\"" + cls + "\"[^>]*>(?:<title>[^<]*</title>)?([^<]*)<");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

// The value of attribute `attr` on every element whose class is `cls`.
std::vector<std::string> attrs_of(const std::string& doc, const std::string& cls,
                                  const std::string& attr) {
  const std::regex re("<[a-z]+ class=\"" + cls + "\"[^>]*? " + attr + "=\"([^\"]*)\"");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

// The (x, y) points of every series polyline.
std::vector<std::vector<std::pair<double, double>>> polylines(const std::string& doc) {
  std::vector<std::vector<std::pair<double, double>>> out;
  for (const std::string& pts : attrs_of(doc, "series", "points")) {
    std::istringstream in(pts);
    std::string xy;
    out.emplace_back();
    while (in >> xy) {
      const std::size_t comma = xy.find(',');
      out.back().emplace_back(std::stod(xy.substr(0, comma)), std::stod(xy.substr(comma + 1)));
    }
  }
  return out;
}

CurveSeries series(const std::string& name, std::vector<double> x, std::vector<double> y) {
  return CurveSeries{name, std::move(x), std::move(y)};
}

// --- the checker itself ---------------------------------------------------------------------

TEST(ReportChecker, AcceptsWellFormedAndRejectsBrokenDocuments) {
  EXPECT_EQ(xml_problem("<svg a=\"1\"><g><text>a &amp; b</text><line x=\"2\"/></g></svg>\n"), "");
  EXPECT_NE(xml_problem("<svg><g></svg>"), "");                 // misnested
  EXPECT_NE(xml_problem("<svg><g>"), "");                       // never closed
  EXPECT_NE(xml_problem("<svg><text>a<b</text></svg>"), "");    // raw '<'
  EXPECT_NE(xml_problem("<svg><text>a & b</text></svg>"), "");  // raw '&'
  EXPECT_NE(xml_problem("<svg><text>a > b</text></svg>"), "");  // raw '>'
  EXPECT_NE(xml_problem("<svg x=\"a\"b\"/>"), "");              // quote inside a value
  EXPECT_NE(xml_problem("<svg x=1/>"), "");                     // unquoted value
  EXPECT_NE(xml_problem("<svg/><svg/>"), "");                   // two roots
}

// --- format_number, xml_escape, truncate_utf8 -------------------------------------------------

TEST(ReportFormat, FixedDigitsAndNonFiniteSpelledOut) {
  EXPECT_EQ(format_number(0.5, 2), "0.50");
  EXPECT_EQ(format_number(1234.5678, 3), "1234.568");
  EXPECT_EQ(format_number(-1.25, 1), "-1.2");  // exactly halfway: ties to even, as printf
  EXPECT_EQ(format_number(-0.001, 2), "0.00");
  EXPECT_EQ(format_number(-0.0, 0), "0");
  EXPECT_EQ(format_number(3.0, 0), "3");
  EXPECT_EQ(format_number(kNaN, 3), "nan");
  EXPECT_EQ(format_number(kInf, 3), "inf");
  EXPECT_EQ(format_number(-kInf, 3), "-inf");
  EXPECT_EQ(format_number(1e300, 0).size(), 301u);
  EXPECT_NE(error_of<UsageError>([] { format_number(1, -1); }), "(no error)");
  EXPECT_NE(error_of<UsageError>([] { format_number(1, 31); }), "(no error)");
}

// A locale whose decimal point is a comma: iostreams would print "0,50" under it.
struct CommaDecimal : std::numpunct<char> {
  char do_decimal_point() const override { return ','; }
};

TEST(ReportFormat, IndependentOfTheGlobalLocale) {
  const std::vector<CurveSeries> s = {series("a", {1, 2, 3}, {0.9, 0.85, 0.8})};
  const std::string before = learning_curve_svg(s, "t", "epoch", "MSE", 2);
  const std::locale old =
      std::locale::global(std::locale(std::locale::classic(), new CommaDecimal));
  const std::string number = format_number(0.5, 2);
  const std::string after = learning_curve_svg(s, "t", "epoch", "MSE", 2);
  std::locale::global(old);
  EXPECT_EQ(number, "0.50");
  EXPECT_EQ(after, before);
}

TEST(ReportFormat, XmlEscapeCoversMarkupControlBytesAndBadUtf8) {
  EXPECT_EQ(xml_escape("a<&>\"'b"), "a&lt;&amp;&gt;&quot;&apos;b");
  EXPECT_EQ(xml_escape("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");  // kept
  EXPECT_EQ(xml_escape("tab\tnl\n"), "tab\tnl\n");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(xml_escape(std::string("a\x01") + "b"), "a" + fffd + "b");
  EXPECT_EQ(xml_escape("a\xFF"), "a" + fffd);                 // not UTF-8
  EXPECT_EQ(xml_escape("\xC3"), fffd);                        // truncated sequence
  EXPECT_EQ(xml_escape("\xC0\xAF"), fffd + fffd);             // overlong '/'
  EXPECT_EQ(xml_escape("\xED\xA0\x80"), fffd + fffd + fffd);  // surrogate
  EXPECT_EQ(xml_escape("\xEF\xBF\xBF"), fffd);                // U+FFFF, not an XML character
  EXPECT_EQ(xml_escape("x\xEF\xBF\xBEy"), "x" + fffd + "y");  // U+FFFE likewise
  EXPECT_EQ(xml_escape("\xE2\x82"), fffd);                    // one per maximal ill-formed part
}

TEST(ReportFormat, TruncateKeepsWholeCodePoints) {
  EXPECT_EQ(truncate_utf8("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3), "\xC3\xA9\xC3\xA9\xE2\x80\xA6");
  EXPECT_EQ(truncate_utf8("abc", 3), "abc");
  EXPECT_EQ(utf8_length("\xC3\xA9t\xC3\xA9"), 3u);
}

// --- ticks -------------------------------------------------------------------------------------

void expect_ticks(double lo, double hi, const std::vector<double>& want) {
  const std::vector<double> got = nice_ticks(lo, hi);
  ASSERT_EQ(got.size(), want.size()) << lo << ".." << hi;
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_DOUBLE_EQ(got[i], want[i]) << lo << ".." << hi;
}

TEST(ReportTicks, HandWorkedRanges) {
  // 0..1: step 0.1 needs 11 ticks, 0.2 needs 6.
  expect_ticks(0, 1, {0, 0.2, 0.4, 0.6, 0.8, 1});
  expect_ticks(0, 10, {0, 2, 4, 6, 8, 10});
  expect_ticks(1, 5, {1, 2, 3, 4, 5});
  expect_ticks(0, 100, {0, 20, 40, 60, 80, 100});
  // 0.8..0.95: steps 0.02 (0.8..0.96, 9 ticks) and 0.025 (7) are too fine; 0.05 gives 4.
  expect_ticks(0.8, 0.95, {0.8, 0.85, 0.9, 0.95});
  // -3..7: step 2 needs -4..8 (7 ticks); 2.5 needs -5..7.5 (6).
  expect_ticks(-3, 7, {-5, -2.5, 0, 2.5, 5, 7.5});
  expect_ticks(0, 0, {0, 0.2, 0.4, 0.6, 0.8, 1});
  expect_ticks(-0.3, -0.1, {-0.3, -0.25, -0.2, -0.15, -0.1});
}

TEST(ReportTicks, EqualBoundsGetARangeAroundTheValue) {
  const std::vector<double> t = nice_ticks(3, 3);
  ASSERT_GE(t.size(), 4u);
  EXPECT_LT(t.front(), 3);
  EXPECT_GT(t.back(), 3);
}

TEST(ReportTicks, AnyRangeGetsFourToSixEvenNiceTicksCoveringIt) {
  std::uint64_t state = 12345;
  const auto next = [&state] {  // deterministic uniform in [0, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  for (int trial = 0; trial < 2000; ++trial) {
    const double scale = std::pow(10.0, std::floor(next() * 16) - 8);
    double lo = (next() * 2 - 1) * scale, hi = lo + next() * scale;
    const std::vector<double> t = nice_ticks(lo, hi);
    ASSERT_GE(t.size(), 4u) << lo << ".." << hi;
    ASSERT_LE(t.size(), 6u) << lo << ".." << hi;
    EXPECT_LE(t.front(), lo);
    EXPECT_GE(t.back(), hi);
    const double step = t[1] - t[0];
    for (std::size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, step * 1e-6);
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    const bool nice = std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 ||
                      std::abs(mantissa - 2.5) < 1e-6 || std::abs(mantissa - 5) < 1e-6;
    EXPECT_TRUE(nice) << "step " << step << " for " << lo << ".." << hi;
  }
}

TEST(ReportTicks, RejectsBadBounds) {
  EXPECT_NE(error_of<UsageError>([] { nice_ticks(2, 1); }).find("above"), std::string::npos);
  EXPECT_NE(error_of<UsageError>([] { nice_ticks(kNaN, 1); }), "(no error)");
  EXPECT_NE(error_of<UsageError>([] { nice_ticks(0, kInf); }), "(no error)");
}

// --- learning curves ---------------------------------------------------------------------------

TEST(ReportCurve, TickLabelsUseTheStepsDecimals) {
  const std::string svg = learning_curve_svg(
      {series("val", {1, 2, 3, 4, 5}, {0, 0.3, 1, 0.5, 0.7})}, "t", "epoch", "MSE");
  EXPECT_EQ(texts_of(svg, "tick-y"),
            (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
  EXPECT_EQ(texts_of(svg, "tick-x"), (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

TEST(ReportCurve, PolylineHasExactlyTheFinitePointsInsideThePlot) {
  const std::vector<CurveSeries> s = {series("train", {1, 2, 3, 4, 5}, {0.9, kNaN, 0.8, kInf, 0.7}),
                                      series("val", {1, 2, 3, 4, 5}, {1.0, 0.95, 0.9, 0.92, 0.93}),
                                      series("odd", {kNaN, 2, -kInf}, {0.5, 0.6, 0.7})};
  const std::string svg = learning_curve_svg(s, "curves", "epoch", "MSE");
  EXPECT_EQ(xml_problem(svg), "");
  const auto lines = polylines(svg);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].size(), 3u);
  EXPECT_EQ(lines[1].size(), 5u);
  EXPECT_EQ(lines[2].size(), 1u);
  EXPECT_EQ(count(svg, "class=\"point\""), 1u);  // the one-point series is drawn as a dot
  for (const auto& line : lines) {
    for (const auto& [x, y] : line) {  // default frame: x in 70..490, y in 40..310
      EXPECT_GE(x, 70);
      EXPECT_LE(x, 490);
      EXPECT_GE(y, 40);
      EXPECT_LE(y, 310);
    }
  }
  const auto strokes = attrs_of(svg, "series", "stroke");
  EXPECT_EQ(std::set<std::string>(strokes.begin(), strokes.end()).size(), 3u);
  EXPECT_EQ(count(svg, "nan"), 0u);  // no non-finite coordinate leaks into the document
  EXPECT_EQ(svg, learning_curve_svg(s, "curves", "epoch", "MSE"));  // deterministic
}

TEST(ReportCurve, MarkerOnlyWhenAskedAndAlwaysInRange) {
  const std::vector<CurveSeries> s = {series("val", {1, 2, 3, 4}, {0.9, 0.8, 0.85, 0.87})};
  EXPECT_EQ(count(learning_curve_svg(s, "t", "epoch", "MSE"), "class=\"marker\""), 0u);
  const std::string marked = learning_curve_svg(s, "t", "epoch", "MSE", 2);
  EXPECT_EQ(count(marked, "class=\"marker\""), 1u);
  EXPECT_EQ(texts_of(marked, "marker-label"), (std::vector<std::string>{"chosen 2"}));
  EXPECT_EQ(xml_problem(marked), "");
  const std::string beyond = learning_curve_svg(s, "t", "epoch", "MSE", 9);
  EXPECT_EQ(count(beyond, "class=\"marker\""), 1u);
  EXPECT_GE(std::stod(texts_of(beyond, "tick-x").back()), 9.0);
}

TEST(ReportCurve, EdgeCasesStayWellFormed) {
  const std::vector<std::vector<CurveSeries>> cases = {
      {},                                            // no series
      {series("empty", {}, {})},                     // a series without points
      {series("nan", {1, 2}, {kNaN, kNaN})},         // nothing finite
      {series("one", {3}, {0.5})},                   // one point
      {series("flat", {1, 2, 3}, {0.8, 0.8, 0.8})},  // all-equal y
      {series("zero", {1, 2}, {0, 0})},              // all zero
      {series("huge", {1, 2}, {1e299, -1e299})},     // near the plottable limit
      {series("tiny", {1, 2}, {1e-12, 3e-12})},      // scientific tick labels
  };
  for (const auto& c : cases) {
    const std::string svg = learning_curve_svg(c, "t", "x", "y", 1);
    EXPECT_EQ(xml_problem(svg), "") << (c.empty() ? "no series" : c[0].name) << "\n" << svg;
    EXPECT_EQ(count(svg, "nan\""), 0u);
  }
  const std::string none = learning_curve_svg({series("empty", {}, {})}, "t", "x", "y", 1);
  EXPECT_EQ(texts_of(none, "no-data"), (std::vector<std::string>{"no data"}));
  EXPECT_EQ(count(none, "class=\"axis\""), 2u);
  EXPECT_EQ(count(none, "<polyline"), 0u);
  EXPECT_EQ(count(none, "class=\"marker\""), 0u);
  EXPECT_NE(none.find("empty (no data)"), std::string::npos);  // still in the legend
  const std::string flat = learning_curve_svg({series("f", {1, 2}, {0.8, 0.8})}, "t", "x", "y");
  const auto ticks = texts_of(flat, "tick-y");
  EXPECT_GE(ticks.size(), 4u);
  EXPECT_LT(std::stod(ticks.front()), 0.8);
  EXPECT_GT(std::stod(ticks.back()), 0.8);
}

TEST(ReportCurve, EscapesEveryLabel) {
  const std::string evil = "<&>\"'";
  const std::string svg = learning_curve_svg({series(evil, {1, 2}, {1, 2})}, evil, evil, evil, 1);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count(svg, "&lt;&amp;&gt;&quot;&apos;"), 4u);  // title, x label, y label, legend
  EXPECT_EQ(count(svg, "<&>"), 0u);
}

TEST(ReportCurve, LongNamesAreShortenedWithTheFullNameAsTooltip) {
  const std::string name = "reviews_Musical_Instruments_5.json.gz";
  const std::string svg = learning_curve_svg({series(name, {1}, {1})}, "t", "x", "y");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_NE(svg.find("<title>" + name + "</title>"), std::string::npos);
}

TEST(ReportCurve, RejectsMismatchedSeriesAndTinySizes) {
  EXPECT_NE(error_of<UsageError>([] {
              learning_curve_svg({series("val", {1, 2}, {1})}, "t", "x", "y");
            }).find("'val' has 2 x values and 1 y values"),
            std::string::npos);
  EXPECT_NE(error_of<UsageError>([] {
              learning_curve_svg({}, "t", "x", "y", -1, ChartSize{100, 100});
            }),
            "(no error)");
}

// --- bar charts --------------------------------------------------------------------------------

TEST(ReportBars, BarsErrorBarsAndValueLabels) {
  const std::vector<Bar> bars = {{"MF", 0.812, 0.01}, {"<&> bias", 0.9, 0.0}, {"LoID", 0.75, kNaN}};
  const std::string svg = bar_chart_svg(bars, "test MSE", "MSE");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count(svg, "class=\"bar\""), 3u);
  EXPECT_EQ(count(svg, "class=\"error\""), 1u);  // only the bar with a positive finite error
  EXPECT_EQ(texts_of(svg, "value"), (std::vector<std::string>{"0.812", "0.900", "0.750"}));
  EXPECT_EQ(texts_of(svg, "bar-label"),
            (std::vector<std::string>{"MF", "&lt;&amp;&gt; bias", "LoID"}));
  EXPECT_EQ(texts_of(svg, "tick-y").front(), "0.0");  // positive values: the axis starts at 0
  EXPECT_EQ(count(svg, "class=\"zero\""), 0u);
  EXPECT_EQ(svg, bar_chart_svg(bars, "test MSE", "MSE"));
}

TEST(ReportBars, NegativeValuesExtendTheAxisBelowZero) {
  const std::string svg = bar_chart_svg({{"gain", 0.3, 0.05}, {"loss", -0.2, 0.1}}, "delta", "d");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_LE(std::stod(texts_of(svg, "tick-y").front()), -0.3);  // covers -0.2 - 0.1
  EXPECT_EQ(count(svg, "class=\"zero\""), 1u);
}

TEST(ReportBars, NonFiniteValuesManyBarsAndNoBars) {
  const std::string odd = bar_chart_svg({{"a", kNaN, 0.1}, {"b", kInf, 0}, {"c", 1, 0}}, "t", "y");
  EXPECT_EQ(xml_problem(odd), "");
  EXPECT_EQ(count(odd, "class=\"bar\""), 1u);
  EXPECT_EQ(texts_of(odd, "value"), (std::vector<std::string>{"nan", "inf", "1.000"}));

  std::vector<Bar> many;
  for (int i = 0; i < 40; ++i) many.push_back({"item_" + std::to_string(i), i * 0.1, 0.02});
  const std::string crowded = bar_chart_svg(many, "t", "y");
  EXPECT_EQ(xml_problem(crowded), "");
  EXPECT_EQ(attrs_of(crowded, "bar-label", "transform").size(), 40u);  // rotated labels
  const auto xs = attrs_of(crowded, "bar", "x");
  ASSERT_EQ(xs.size(), 40u);                     // "item_0" (value 0) has a bar of height 0
  for (std::size_t i = 1; i < xs.size(); ++i) {  // room for "0.100"-wide value labels
    EXPECT_GE(std::stod(xs[i]) - std::stod(xs[i - 1]), 6.0 * 5 + 8 - 0.02);  // 2-decimal rounding
  }
  EXPECT_EQ(attrs_of(bar_chart_svg({{"a", 1, 0}}, "t", "y"), "bar-label", "transform").size(), 0u);

  const std::string empty = bar_chart_svg({}, "t", "y");
  EXPECT_EQ(xml_problem(empty), "");
  EXPECT_EQ(texts_of(empty, "no-data"), (std::vector<std::string>{"no data"}));
}

TEST(ReportBars, RejectsNegativeErrors) {
  EXPECT_NE(error_of<UsageError>([] {
              bar_chart_svg({{"ok", 1, 0}, {"bad", 1, -0.1}}, "t", "y");
            }).find("bar 2 ('bad')"),
            std::string::npos);
}

// --- heatmaps ----------------------------------------------------------------------------------

TEST(ReportHeatmap, CellsWithThreeDecimalsLabelsAndScale) {
  const std::vector<std::string> labels = {"Books", "<Music & Co>", "Toys"};
  const std::vector<std::vector<double>> m = {{1, 0.5, 0.25}, {0.5, 1, kNaN}, {0.25, -0.125, 1}};
  const std::string svg = heatmap_svg(labels, m, "similarity");
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count(svg, "class=\"cell\""), 9u);
  EXPECT_EQ(texts_of(svg, "cell-value"),
            (std::vector<std::string>{"1.000", "0.500", "0.250", "0.500", "1.000", "nan", "0.250",
                                      "-0.125", "1.000"}));
  EXPECT_EQ(texts_of(svg, "row-label"),
            (std::vector<std::string>{"Books", "&lt;Music &amp; Co&gt;", "Toys"}));
  EXPECT_EQ(texts_of(svg, "col-label").size(), 3u);
  EXPECT_EQ(count(svg, "class=\"scale\""), 1u);
  // Lowest value lightest, highest darkest.
  const auto fills = attrs_of(svg, "cell", "fill");
  EXPECT_EQ(fills[7], "#f7fbff");
  EXPECT_EQ(fills[0], "#08306b");
  EXPECT_EQ(fills[5], "#cccccc");
}

TEST(ReportHeatmap, RejectsNonSquareMatrices) {
  EXPECT_NE(error_of<UsageError>([] {
              heatmap_svg({"a", "b"}, {{1, 2}}, "t");
            }).find("2 labels but the matrix has 1 rows"),
            std::string::npos);
  EXPECT_NE(error_of<UsageError>([] {
              heatmap_svg({"a", "b"}, {{1, 2}, {3}}, "t");
            }).find("row 2 ('b') has 1 values, expected 2"),
            std::string::npos);
}

TEST(ReportHeatmap, EmptyAndConstantMatrices) {
  const std::string empty = heatmap_svg({}, {}, "t");
  EXPECT_EQ(xml_problem(empty), "");
  EXPECT_EQ(texts_of(empty, "no-data"), (std::vector<std::string>{"no data"}));
  const std::string flat = heatmap_svg({"a", "b"}, {{2, 2}, {2, 2}}, "t");
  EXPECT_EQ(xml_problem(flat), "");
  const auto fills = attrs_of(flat, "cell", "fill");
  EXPECT_EQ(std::set<std::string>(fills.begin(), fills.end()).size(), 1u);
}

// --- markdown ----------------------------------------------------------------------------------

TEST(ReportMarkdown, PaddedColumnsAndEscapedPipes) {
  EXPECT_EQ(markdown_table({"model", "MSE"}, {{"a|b", "0.812"}, {"two\nlines", "1"}}),
            "| model     | MSE   |\n"
            "| --------- | ----- |\n"
            "| a\\|b      | 0.812 |\n"
            "| two lines | 1     |\n");
  EXPECT_EQ(markdown_table({"x"}, {}), "| x   |\n| --- |\n");
}

TEST(ReportMarkdown, RejectsRowsOfTheWrongWidth) {
  EXPECT_NE(error_of<UsageError>([] {
              markdown_table({"a", "b"}, {{"1", "2"}, {"3"}});
            }).find("row 2 has 1 cells but the header has 2"),
            std::string::npos);
  EXPECT_NE(error_of<UsageError>([] { markdown_table({}, {}); }), "(no error)");
}

}  // namespace
}  // namespace loid
