#include "pipeline/schedule_svg.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"

namespace dsv3::pipeline {

namespace {

constexpr double kLeft = 64, kRight = 64, kTop = 40, kRow = 26, kGap = 6, kWidth = 1400;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Micro-batch hues spread by the golden angle so neighbours differ; the kind sets lightness.
std::string colour(const Chunk& c, OpKind kind) {
  const int hue = (c.mb * 137 + c.dir * 60) % 360;
  const int light = kind == OpKind::kF ? 58 : kind == OpKind::kW ? 86 : 74;
  return cat("hsl(", hue, ",65%,", light, "%)");
}

std::string letter(OpKind k) { return k == OpKind::kF ? "F" : k == OpKind::kW ? "W" : "B"; }

std::string cell(double x, double y, double w, double h, const Chunk& c, OpKind kind) {
  std::string s = cat("<rect x='", fmt("%.2f", x), "' y='", fmt("%.2f", y), "' width='", fmt("%.2f", w), "' height='",
                      fmt("%.2f", h), "' fill='", colour(c, kind), "' stroke='#333' stroke-width='0.5'",
                      c.dir ? " stroke-dasharray='2,1.5'" : "", "/>\n");
  std::string label = w > 22 ? letter(kind) : std::string();
  label += std::to_string(c.mb);
  if (c.dir) label += '\'';
  if (w > 7.0 * double(label.size()))
    s += cat("<text x='", fmt("%.2f", x + w / 2), "' y='", fmt("%.2f", y + h / 2 + 3.5),
             "' font-size='10' text-anchor='middle'>", label, "</text>\n");
  return s;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '&') out += "&amp;";
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '\'') out += "&apos;";
    else out += ch;
  }
  return out;
}

}  // namespace

std::string trace_svg(const Trace& t, const std::string& title) {
  const double span = t.end - t.start;
  if (!(span > 0)) fail("trace spans no time");
  const double plot_w = kWidth - kLeft - kRight, scale = plot_w / span;
  const double height = kTop + t.ranks * (kRow + kGap) + 56;
  std::string s = cat("<svg xmlns='http://www.w3.org/2000/svg' width='", kWidth, "' height='", height,
                      "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n",
                      "<text x='", kLeft, "' y='22' font-size='15'>", xml_escape(title), "</text>\n");
  for (int r = 0; r < t.ranks; ++r) {
    const double y = kTop + r * (kRow + kGap);
    s += cat("<text x='", kLeft - 8, "' y='", y + kRow / 2 + 4, "' font-size='12' text-anchor='end'>rank ", r, "</text>\n");
    s += cat("<text x='", kWidth - kRight + 6, "' y='", y + kRow / 2 + 4, "' font-size='11'>",
             fmt("%.1f", 100 * t.bubble_fraction(r)), "% idle</text>\n");
  }
  for (const TraceOp& op : t.ops) {
    const double x = kLeft + (op.start - t.start) * scale, w = std::max(0.5, (op.end - op.start) * scale);
    const double y = kTop + op.rank * (kRow + kGap);
    if (op.kind != OpKind::kFB) {
      s += cell(x, y, w, kRow, op.a, op.kind);
      continue;
    }
    s += cell(x, y, w, kRow / 2, op.a, OpKind::kF);
    s += cell(x, y + kRow / 2, w, kRow / 2, op.b, OpKind::kBW);
    s += cat("<rect x='", fmt("%.2f", x), "' y='", y, "' width='", fmt("%.2f", w), "' height='", kRow,
             "' fill='none' stroke='black' stroke-width='2'/>\n");
  }
  const double ly = kTop + t.ranks * (kRow + kGap) + 18;
  s += cat("<text x='", kLeft, "' y='", ly, "' font-size='11'>F forward (dark), B backward: input gradient or full (mid), ",
           "W weight gradient (light); colour = micro-batch; dashed and primed = reverse direction; ",
           "bold border = overlapped forward and backward pair. Time: ", fmt("%.3g", span / 1e3), " ms.</text>\n");
  return s + "</svg>\n";
}

std::string bubble_table(const Trace& t) {
  std::string s = cat("step ", fmt("%.3f", (t.end - t.start) / 1e3), " ms\nrank   busy ms  bubble %\n");
  double sum = 0;
  for (int r = 0; r < t.ranks; ++r) {
    sum += t.bubble_fraction(r);
    s += cat(fmt("%4.0f", r), fmt("%10.3f", t.busy(r) / 1e3), fmt("%10.2f", 100 * t.bubble_fraction(r)), "\n");
  }
  return s + cat("mean", fmt("%20.2f", 100 * sum / t.ranks), "\n");
}

}  // namespace dsv3::pipeline
