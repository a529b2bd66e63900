// Run-report rendering for training runs and `loid bench`: learning curves, bar charts and heatmaps
// as standalone SVG, and Markdown tables. Pure functions (no I/O): the same input gives the same
// bytes on every machine and in every locale. All user text placed in SVG is XML-escaped.
#pragma once

#include <string>
#include <vector>

#include "eval/svg.h"  // xml_escape, format_number

namespace loid {

// One line of a learning curve.
struct CurveSeries {
  std::string name;       // legend text
  std::vector<double> x;  // e.g. epochs; the same length as y
  std::vector<double> y;  // e.g. validation MSE; points with a non-finite x or y are skipped
};

// One bar of a bar chart.
struct Bar {
  std::string label;   // text under the bar
  double value = 0.0;  // bar height; a non-finite value draws no bar and is labelled "nan"/"inf"
  double error = 0.0;  // error bar half-width (value +- error); 0 or NaN: none; < 0: UsageError
};

// Size of a chart in pixels; at least 320 x 200.
struct ChartSize {
  int width = 640;
  int height = 360;
};

// Tick values for an axis that covers [lo, hi]: 4 to 6 consecutive multiples of a step of 1, 2,
// 2.5 or 5 x 10^k, the first <= lo and the last >= hi, with the smallest such step that needs at
// most 6 ticks (0..1 gives 0, 0.2, ..., 1). When lo == hi (or nearly, relative to their size) the
// axis covers a small range around the value (0..1 for zero). Throws UsageError when lo > hi or a
// bound is not finite or beyond +-1e300.
std::vector<double> nice_ticks(double lo, double hi);

// A line chart with one polyline per series (distinct colours, a legend), nice ticks on both axes
// and, when marked_x >= 0, a dashed vertical marker at x = marked_x (the chosen epoch; the x range
// is widened to show it). Points are joined in the order given; non-finite points (and values
// beyond +-1e300) are skipped, and a chart with no point left says "no data". Throws UsageError
// when a series' x and y lengths differ or the size is below the minimum.
std::string learning_curve_svg(const std::vector<CurveSeries>& series, const std::string& title,
                               const std::string& x_label, const std::string& y_label,
                               int marked_x = -1, const ChartSize& size = {});

// Bars with error bars and value labels (3 decimals). The y axis starts at 0, or below it when a
// value (minus its error) is negative. Labels go under the bars, rotated when there are many or
// long ones; the chart widens so that each bar keeps room for its value label (at least 28
// pixels). Throws UsageError for a negative error or a size below the minimum.
std::string bar_chart_svg(const std::vector<Bar>& bars, const std::string& title,
                          const std::string& y_label, const ChartSize& size = {});

// A square matrix as coloured cells (light = lowest finite value, dark = highest, with a colour
// scale), each printed with 3 decimals, labels[i] naming row i and column i. Non-finite cells are
// grey and print "nan"/"inf". Throws UsageError when the matrix is not labels.size() x
// labels.size() (naming the offending row).
std::string heatmap_svg(const std::vector<std::string>& labels,
                        const std::vector<std::vector<double>>& matrix, const std::string& title);

// A GitHub-flavoured Markdown table, columns padded to equal width, one line per row, each
// ending in '\n'. "|" in a cell becomes "\|" and line breaks become spaces. Throws UsageError when
// the header is empty or a row's width differs from the header's (naming the 1-based row).
std::string markdown_table(const std::vector<std::string>& header,
                           const std::vector<std::vector<std::string>>& rows);

}  // namespace loid
