#include "eval/report.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "core/error.h"

namespace loid {

namespace {

constexpr double kMaxPlottable = 1e300;  // beyond this, spans and pixel maths overflow
constexpr int kMaxTicks = 6;
constexpr double kCharWidth = 7.0;  // rough width of a 12 px sans-serif character, in pixels

// Tableau 10: distinct, colour-blind-friendlier than the SVG named colours.
constexpr std::array<const char*, 10> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                  "#bcbd22", "#17becf"};
// Series 10 and up reuse the colours with these dash patterns.
constexpr std::array<const char*, 4> kDashes = {"", "6,3", "2,3", "8,3,2,3"};
constexpr char kAxisColour[] = "#333333";
constexpr char kGridColour[] = "#e5e5e5";
constexpr char kMutedColour[] = "#888888";
constexpr char kBarColour[] = "#4c78a8";

using Attrs = SvgWriter::Attrs;

bool plottable(double v) {
  return std::isfinite(v) && std::abs(v) <= kMaxPlottable;
}

double power_of_ten(int n) {  // 10^n for n >= 0; exact up to 10^22
  double p = 1.0;
  for (int i = 0; i < n; ++i) p *= 10.0;
  return p;
}

// v x 10^k, correctly rounded when v is a small integer (or half-integer) and |k| <= 22, so that
// tick 3 x 0.2 prints and compares as 0.6.
double times_power_of_ten(double v, int k) {
  return k >= 0 ? v * power_of_ten(k) : v / power_of_ten(-k);
}

// "2.50e-07": for numbers too large or too small for fixed notation.
std::string scientific(double v) {
  if (v == 0.0) return "0";
  std::array<char, 64> buf;
  const auto res =
      std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific, 2);
  return std::string(buf.data(), res.ptr);
}

// A value printed in a chart with `digits` decimals, or in scientific notation when huge.
std::string value_text(double v, int digits) {
  return std::isfinite(v) && std::abs(v) >= 1e9 ? scientific(v) : format_number(v, digits);
}

// An axis whose ticks are i x mantissa x 10^exponent for consecutive integers i.
struct Axis {
  std::vector<double> ticks;
  double mantissa = 1.0;
  int exponent = 0;
  double lo() const { return ticks.front(); }
  double hi() const { return ticks.back(); }
};

Axis make_axis(double lo, double hi) {
  if (!plottable(lo) || !plottable(hi)) {
    throw UsageError("nice_ticks: bounds must be finite and within +-1e300, got " +
                     format_number(lo, 6) + " and " + format_number(hi, 6));
  }
  if (lo > hi) {
    throw UsageError("nice_ticks: lo (" + format_number(lo, 6) + ") is above hi (" +
                     format_number(hi, 6) + ")");
  }
  const double magnitude = std::max(std::abs(lo), std::abs(hi));
  if (hi - lo < 1e-290 || hi - lo <= 1e-9 * magnitude) {  // one value: show a range around it
    const double mid = lo / 2 + hi / 2;
    if (std::abs(mid) < 1e-290) {
      lo = 0.0;
      hi = 1.0;
    } else {
      lo = mid - std::abs(mid) * 0.05;
      hi = mid + std::abs(mid) * 0.05;
    }
  }
  // Start from a step of at most a hundredth of the span (over 100 ticks) and take the first
  // candidate that needs at most kMaxTicks. Consecutive candidates differ by a factor of at most 2,
  // so the one taken still needs at least 4.
  constexpr std::array<double, 4> kMantissas = {1.0, 2.0, 2.5, 5.0};
  int k = static_cast<int>(std::floor(std::log10(hi - lo))) - 2;
  for (int round = 0; round < 8; ++round, ++k) {
    for (double m : kMantissas) {
      const double step = times_power_of_ten(m, k);
      const double first = std::floor(lo / step + 1e-9);
      const double last = std::ceil(hi / step - 1e-9);
      if (last - first + 1 > kMaxTicks) continue;
      Axis axis;
      axis.mantissa = m;
      axis.exponent = k;
      // + 0.0 turns a -0 (ceil of a small negative number) into 0.
      for (double i = first; i <= last; ++i)
        axis.ticks.push_back(times_power_of_ten(i * m, k) + 0.0);
      return axis;
    }
  }
  throw Error("nice_ticks: no tick step found for " + format_number(lo, 6) + ".." +
              format_number(hi, 6));  // unreachable: see the loop's comment
}

// A tick label with just the decimals the step needs (0.25 steps: 2; 0.2 steps: 1; 5 steps: 0).
std::string tick_label(const Axis& axis, double v) {
  const int decimals =
      std::max(0, -axis.exponent) + (axis.mantissa == 2.5 && axis.exponent <= 0 ? 1 : 0);
  const double magnitude = std::max(std::abs(axis.lo()), std::abs(axis.hi()));
  if (decimals > 6 || magnitude >= 1e9) return scientific(v);
  return format_number(v, decimals);
}

// Maps data values [lo, hi] linearly onto pixels [p0, p1] (p0 > p1 for a y axis).
struct Scale {
  double lo, hi, p0, p1;
  double operator()(double v) const { return p0 + (v - lo) / (hi - lo) * (p1 - p0); }
};

// The plot area in pixels.
struct Frame {
  double left, top, right, bottom;
  double centre_x() const { return (left + right) / 2; }
  double centre_y() const { return (top + bottom) / 2; }
};

void check_size(const char* what, const ChartSize& size) {
  if (size.width < 320 || size.height < 200) {
    throw UsageError(std::string(what) + ": a chart must be at least 320 x 200 pixels, got " +
                     std::to_string(size.width) + " x " + std::to_string(size.height));
  }
}

// Attributes `first` followed by `rest`, so that the class stays first in the element.
Attrs join(Attrs first, const Attrs& rest) {
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

void draw_line(SvgWriter& svg, const Attrs& style, double x1, double y1, double x2, double y2) {
  svg.element("line",
              join(style, {{"x1", px(x1)}, {"y1", px(y1)}, {"x2", px(x2)}, {"y2", px(y2)}}));
}

Attrs box(double x, double y, double w, double h) {
  return {{"x", px(x)}, {"y", px(y)}, {"width", px(w)}, {"height", px(h)}};
}

// <text> at (x, y), shortened to max_chars code points (0: no limit) with the full text as a
// hover tooltip when shortened.
void draw_text(SvgWriter& svg, const Attrs& style, double x, double y, const std::string& text,
               std::size_t max_chars = 0) {
  const std::string shown = max_chars > 0 ? truncate_utf8(text, max_chars) : text;
  svg.element("text", join(style, {{"x", px(x)}, {"y", px(y)}}), shown, shown == text ? "" : text);
}

std::string rotate(double degrees, double x, double y) {
  return "rotate(" + px(degrees) + " " + px(x) + " " + px(y) + ")";
}

std::size_t chars_for(double pixels) {  // how many 12 px characters fit, at least 3
  return static_cast<std::size_t>(std::max(3.0, pixels / kCharWidth));
}

SvgWriter start_chart(double width, double height, const std::string& title) {
  SvgWriter svg(width, height);
  svg.element("rect", join({{"fill", "white"}}, box(0, 0, width, height)));
  draw_text(svg, {{"class", "title"}, {"text-anchor", "middle"}, {"font-size", "15"}}, width / 2,
            24, title, chars_for(width * 0.8));
  return svg;
}

// Horizontal grid lines with their labels, the y axis title, and the two axis lines.
void draw_y_axis(SvgWriter& svg, const Frame& f, const Axis& axis, const Scale& sy,
                 const std::string& y_label) {
  for (double t : axis.ticks) {
    const double y = sy(t);
    draw_line(svg, {{"class", "grid"}, {"stroke", kGridColour}}, f.left, y, f.right, y);
    draw_text(svg, {{"class", "tick-y"}, {"text-anchor", "end"}}, f.left - 6, y + 4,
              tick_label(axis, t));
  }
  draw_line(svg, {{"class", "axis"}, {"stroke", kAxisColour}}, f.left, f.top, f.left, f.bottom);
  draw_line(svg, {{"class", "axis"}, {"stroke", kAxisColour}}, f.left, f.bottom, f.right, f.bottom);
  draw_text(svg,
            {{"class", "y-label"},
             {"text-anchor", "middle"},
             {"transform", rotate(-90, 16, f.centre_y())}},
            16, f.centre_y(), y_label, chars_for(f.bottom - f.top));
}

void draw_no_data(SvgWriter& svg, const Frame& f) {
  draw_text(svg, {{"class", "no-data"}, {"text-anchor", "middle"}, {"fill", kMutedColour}},
            f.centre_x(), f.centre_y(), "no data");
}

// Stroke attributes of series i: a palette colour, dashed from the 11th series on.
Attrs series_stroke(std::size_t i) {
  Attrs a = {{"stroke", kPalette[i % kPalette.size()]}, {"stroke-width", "2"}};
  const char* dash = kDashes[(i / kPalette.size()) % kDashes.size()];
  if (*dash) a.emplace_back("stroke-dasharray", dash);
  return a;
}

std::string hex_colour(int r, int g, int b) {
  std::array<char, 8> buf;
  std::snprintf(buf.data(), buf.size(), "#%02x%02x%02x", r, g, b);
  return buf.data();
}

// Sequential blues: t = 0 is the lightest, t = 1 the darkest.
std::string blues(double t) {
  const auto mix = [t](int a, int b) { return static_cast<int>(std::lround(a + (b - a) * t)); };
  return hex_colour(mix(0xf7, 0x08), mix(0xfb, 0x30), mix(0xff, 0x6b));
}

std::string clean_cell(const std::string& cell) {
  std::string out;
  out.reserve(cell.size());
  for (std::size_t i = 0; i < cell.size(); ++i) {
    const char c = cell[i];
    if (c == '|') {
      out += "\\|";
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < cell.size() && cell[i + 1] == '\n') ++i;
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi) {
  return make_axis(lo, hi).ticks;
}

std::string learning_curve_svg(const std::vector<CurveSeries>& series, const std::string& title,
                               const std::string& x_label, const std::string& y_label, int marked_x,
                               const ChartSize& size) {
  check_size("learning_curve_svg", size);
  std::vector<std::vector<std::pair<double, double>>> points(series.size());
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const CurveSeries& s = series[i];
    if (s.x.size() != s.y.size()) {
      throw UsageError("learning_curve_svg: series '" + s.name + "' has " +
                       std::to_string(s.x.size()) + " x values and " + std::to_string(s.y.size()) +
                       " y values");
    }
    for (std::size_t j = 0; j < s.x.size(); ++j) {
      if (!plottable(s.x[j]) || !plottable(s.y[j])) continue;
      points[i].emplace_back(s.x[j], s.y[j]);
      x_lo = std::min(x_lo, s.x[j]);
      x_hi = std::max(x_hi, s.x[j]);
      y_lo = std::min(y_lo, s.y[j]);
      y_hi = std::max(y_hi, s.y[j]);
    }
  }
  const bool has_data = x_lo <= x_hi;
  const bool marker = has_data && marked_x >= 0;
  if (marker) {
    x_lo = std::min(x_lo, static_cast<double>(marked_x));
    x_hi = std::max(x_hi, static_cast<double>(marked_x));
  }
  const Axis ax = has_data ? make_axis(x_lo, x_hi) : make_axis(0, 1);
  const Axis ay = has_data ? make_axis(y_lo, y_hi) : make_axis(0, 1);

  const double width = size.width, height = size.height;
  const Frame f{70, 40, width - 150, height - 50};  // the legend takes the right 150 pixels
  const Scale sx{ax.lo(), ax.hi(), f.left, f.right};
  const Scale sy{ay.lo(), ay.hi(), f.bottom, f.top};

  SvgWriter svg = start_chart(width, height, title);
  draw_y_axis(svg, f, ay, sy, y_label);
  for (double t : ax.ticks) {
    draw_line(svg, {{"class", "tick"}, {"stroke", kAxisColour}}, sx(t), f.bottom, sx(t),
              f.bottom + 5);
    draw_text(svg, {{"class", "tick-x"}, {"text-anchor", "middle"}}, sx(t), f.bottom + 18,
              tick_label(ax, t));
  }
  draw_text(svg, {{"class", "x-label"}, {"text-anchor", "middle"}}, f.centre_x(), height - 12,
            x_label, chars_for(f.right - f.left));
  if (!has_data) draw_no_data(svg, f);

  for (std::size_t i = 0; i < series.size(); ++i) {
    if (points[i].empty()) continue;
    std::string coords;
    for (const auto& [x, y] : points[i]) {
      if (!coords.empty()) coords += ' ';
      coords += px(sx(x)) + "," + px(sy(y));
    }
    svg.element("polyline", join({{"class", "series"}, {"points", coords}, {"fill", "none"}},
                                 series_stroke(i)));
    if (points[i].size() == 1) {  // a one-point line is invisible: draw the point
      svg.element("circle", {{"class", "point"},
                             {"cx", px(sx(points[i][0].first))},
                             {"cy", px(sy(points[i][0].second))},
                             {"r", "3"},
                             {"fill", kPalette[i % kPalette.size()]}});
    }
  }

  if (marker) {
    const double x = sx(marked_x);
    draw_line(svg, {{"class", "marker"}, {"stroke", "#555555"}, {"stroke-dasharray", "5,4"}}, x,
              f.top, x, f.bottom);
    draw_text(svg, {{"class", "marker-label"}, {"text-anchor", "middle"}, {"font-size", "10"}}, x,
              f.top - 4, "chosen " + std::to_string(marked_x));
  }

  svg.open("g", {{"class", "legend"}});
  for (std::size_t i = 0; i < series.size(); ++i) {
    const double y = f.top + 8 + 18.0 * static_cast<double>(i);
    draw_line(svg, series_stroke(i), f.right + 14, y, f.right + 34, y);
    const std::string& name = series[i].name;
    const std::string shown = truncate_utf8(name, 14);
    svg.element("text", {{"x", px(f.right + 40)}, {"y", px(y + 4)}},
                shown + (points[i].empty() ? " (no data)" : ""), shown == name ? "" : name);
  }
  svg.close();
  return svg.finish();
}

std::string bar_chart_svg(const std::vector<Bar>& bars, const std::string& title,
                          const std::string& y_label, const ChartSize& size) {
  check_size("bar_chart_svg", size);
  double lo = 0.0, hi = 0.0;
  std::size_t longest = 0, longest_value = 0;
  std::vector<bool> has_error(bars.size(), false);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    if (b.error < 0) {
      throw UsageError("bar_chart_svg: bar " + std::to_string(i + 1) + " ('" + b.label +
                       "') has a negative error " + format_number(b.error, 6));
    }
    longest = std::max(longest, utf8_length(b.label));
    longest_value = std::max(longest_value, value_text(b.value, 3).size());
    if (!plottable(b.value)) continue;
    has_error[i] = std::isfinite(b.error) && b.error > 0 && plottable(b.value - b.error) &&
                   plottable(b.value + b.error);
    const double e = has_error[i] ? b.error : 0.0;
    lo = std::min(lo, b.value - e);
    hi = std::max(hi, b.value + e);
  }
  const Axis ay = make_axis(lo, hi);  // all zero (or no bars): 0..1

  // Each bar's slot is wide enough for its value label (10 px digits are about 6 px wide).
  const double n = static_cast<double>(bars.size()), left = 70, right_margin = 20;
  const double min_slot = std::max(28.0, 6.0 * static_cast<double>(longest_value) + 8);
  const double width =
      std::max(static_cast<double>(size.width), left + right_margin + n * min_slot);
  const double slot = bars.empty() ? 0.0 : (width - left - right_margin) / n;
  const bool rotated = bars.size() > 8 || static_cast<double>(longest) * kCharWidth > slot;
  const double height = size.height;
  const Frame f{left, 40, width - right_margin, height - (rotated ? 110 : 40)};
  const Scale sy{ay.lo(), ay.hi(), f.bottom, f.top};

  SvgWriter svg = start_chart(width, height, title);
  draw_y_axis(svg, f, ay, sy, y_label);
  if (bars.empty()) draw_no_data(svg, f);
  const double zero = sy(0.0);
  if (ay.lo() < 0) {
    draw_line(svg, {{"class", "zero"}, {"stroke", kAxisColour}}, f.left, zero, f.right, zero);
  }

  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double cx = f.left + slot * (static_cast<double>(i) + 0.5);
    double text_y = zero - 4;  // where the value label goes
    if (plottable(b.value)) {
      const double top = std::min(sy(b.value), zero), bottom = std::max(sy(b.value), zero);
      svg.open("rect", join({{"class", "bar"}, {"fill", kBarColour}},
                            box(cx - slot * 0.35, top, slot * 0.7, bottom - top)));
      svg.element("title", {},
                  b.label + ": " + value_text(b.value, 3) +
                      (has_error[i] ? " +- " + value_text(b.error, 3) : ""));
      svg.close();
      const double e = has_error[i] ? b.error : 0.0;
      if (has_error[i]) {
        const double y1 = sy(b.value + e), y2 = sy(b.value - e), cap = slot * 0.1;
        svg.open("g", {{"class", "error"}, {"stroke", "#222222"}});
        draw_line(svg, {}, cx, y1, cx, y2);
        draw_line(svg, {}, cx - cap, y1, cx + cap, y1);
        draw_line(svg, {}, cx - cap, y2, cx + cap, y2);
        svg.close();
      }
      text_y = b.value >= 0 ? sy(b.value + e) - 4 : sy(b.value - e) + 12;
    }
    draw_text(svg, {{"class", "value"}, {"text-anchor", "middle"}, {"font-size", "10"}}, cx, text_y,
              value_text(b.value, 3));
    const double label_y = f.bottom + 14;
    if (rotated) {
      draw_text(
          svg,
          {{"class", "bar-label"}, {"text-anchor", "end"}, {"transform", rotate(-45, cx, label_y)}},
          cx, label_y, b.label, 18);
    } else {
      draw_text(svg, {{"class", "bar-label"}, {"text-anchor", "middle"}}, cx, label_y, b.label,
                chars_for(slot));
    }
  }
  return svg.finish();
}

std::string heatmap_svg(const std::vector<std::string>& labels,
                        const std::vector<std::vector<double>>& matrix, const std::string& title) {
  const std::size_t n = labels.size();
  if (matrix.size() != n) {
    throw UsageError("heatmap_svg: " + std::to_string(n) + " labels but the matrix has " +
                     std::to_string(matrix.size()) + " rows");
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (std::size_t r = 0; r < n; ++r) {
    if (matrix[r].size() != n) {
      throw UsageError("heatmap_svg: row " + std::to_string(r + 1) + " ('" + labels[r] + "') has " +
                       std::to_string(matrix[r].size()) + " values, expected " + std::to_string(n) +
                       " (the matrix must be square)");
    }
    for (double v : matrix[r]) {
      if (!plottable(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  const double cell = 56, left = 150, top = 50;
  const double side = cell * static_cast<double>(n);
  const double width = std::max(320.0, left + side + 110);
  const double height = std::max(200.0, top + side + 110);
  const auto position = [&](double v) { return hi > lo ? (v - lo) / (hi - lo) : 0.5; };

  SvgWriter svg = start_chart(width, height, title);
  if (n == 0) draw_no_data(svg, Frame{0, top, width, height - 40});
  for (std::size_t r = 0; r < n; ++r) {
    const double y = top + cell * static_cast<double>(r);
    draw_text(svg, {{"class", "row-label"}, {"text-anchor", "end"}}, left - 6, y + cell / 2 + 4,
              labels[r], 20);
    for (std::size_t c = 0; c < n; ++c) {
      const double x = left + cell * static_cast<double>(c), v = matrix[r][c];
      const bool finite = plottable(v);
      const double t = finite ? position(v) : 0.0;
      svg.element(
          "rect",
          join({{"class", "cell"}, {"fill", finite ? blues(t) : "#cccccc"}, {"stroke", "white"}},
               box(x, y, cell, cell)));
      draw_text(svg,
                {{"class", "cell-value"},
                 {"text-anchor", "middle"},
                 {"font-size", "11"},
                 {"fill", t > 0.55 ? "white" : "black"}},
                x + cell / 2, y + cell / 2 + 4, value_text(v, 3));
    }
  }
  if (n > 0) {  // an outline, so that cells as light as the background still show their extent
    svg.element("rect", join({{"class", "outline"}, {"fill", "none"}, {"stroke", "#cccccc"}},
                             box(left, top, side, side)));
  }
  for (std::size_t c = 0; c < n; ++c) {
    const double x = left + cell * (static_cast<double>(c) + 0.5), y = top + side + 14;
    draw_text(svg,
              {{"class", "col-label"}, {"text-anchor", "end"}, {"transform", rotate(-45, x, y)}}, x,
              y, labels[c], 18);
  }
  if (lo <= hi) {  // colour scale for the finite values: darkest (the maximum) at the top
    constexpr int kSteps = 8;
    const double x = left + side + 20, step_h = side / kSteps;
    svg.open("g", {{"class", "scale"}});
    for (int k = 0; k < kSteps; ++k) {
      svg.element("rect", join({{"fill", blues(1.0 - (k + 0.5) / kSteps)}},
                               box(x, top + step_h * k, 14, step_h)));
    }
    draw_text(svg, {}, x + 20, top + 10, value_text(hi, 3));
    draw_text(svg, {}, x + 20, top + side, value_text(lo, 3));
    svg.close();
  }
  return svg.finish();
}

std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows) {
  if (header.empty()) throw UsageError("markdown_table: the header has no columns");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != header.size()) {
      throw UsageError("markdown_table: row " + std::to_string(r + 1) + " has " +
                       std::to_string(rows[r].size()) + " cells but the header has " +
                       std::to_string(header.size()));
    }
  }
  std::vector<std::vector<std::string>> cells;  // the header, then the rows, escaped
  std::vector<std::size_t> widths(header.size(), 3);
  const auto add = [&](const std::vector<std::string>& row) {
    std::vector<std::string> cleaned;
    for (std::size_t c = 0; c < row.size(); ++c) {
      cleaned.push_back(clean_cell(row[c]));
      widths[c] = std::max(widths[c], utf8_length(cleaned.back()));
    }
    cells.push_back(std::move(cleaned));
  };
  add(header);
  for (const auto& row : rows) add(row);

  const auto line = [&](const std::vector<std::string>& row) {
    std::string out = "|";
    for (std::size_t c = 0; c < row.size(); ++c) {
      out += " " + row[c] + std::string(widths[c] - utf8_length(row[c]), ' ') + " |";
    }
    return out + "\n";
  };
  std::string out = line(cells[0]) + "|";
  for (std::size_t w : widths) out += " " + std::string(w, '-') + " |";
  out += "\n";
  for (std::size_t r = 1; r < cells.size(); ++r) out += line(cells[r]);
  return out;
}

}  // namespace loid
