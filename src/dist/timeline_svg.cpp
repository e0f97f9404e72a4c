#include "dist/timeline_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.h"
#include "io/json_file.h"

namespace dsv3::dist {

namespace {

struct Box {
  int rank;
  double t0, t1;  // ms
  std::string name, category;
};

const char* colour(const std::string& category) {
  if (category == "compute") return "#4e79a7";
  if (category == "communication") return "#f28e2b";
  if (category == "wait") return "#e15759";
  return "#9c9c9c";
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

}  // namespace

std::string trace_svg(const json& trace, double from_ms, double to_ms, const std::string& title) {
  if (!trace.is_object() || !trace.contains("traceEvents") || !trace["traceEvents"].is_array())
    fail("not a Chrome trace-event file (no traceEvents array)");
  std::vector<Box> boxes;
  int ranks = 0;
  double end = 0;
  for (const json& e : trace["traceEvents"]) {
    if (e.value("ph", "") != "X") continue;
    const double t0 = e.at("ts").get<double>() / 1000, t1 = t0 + e.at("dur").get<double>() / 1000;
    boxes.push_back({e.at("pid").get<int>(), t0, t1, e.value("name", ""), e.value("cat", "")});
    ranks = std::max(ranks, boxes.back().rank + 1);
    end = std::max(end, t1);
  }
  if (boxes.empty()) fail("the trace has no spans");
  if (to_ms <= from_ms) from_ms = 0, to_ms = end;
  const double W = 1000, left = 70, lane = 28, top = 40, plot_w = W - left - 20;
  const double H = top + lane * ranks + 60;
  auto x = [&](double t) { return left + plot_w * (std::clamp(t, from_ms, to_ms) - from_ms) / (to_ms - from_ms); };
  std::string s;
  char b[512];
  std::snprintf(b, sizeof b,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"%.0f\" y=\"20\" font-size=\"14\">%s</text>\n",
                W, H, left, escape(title).c_str());
  s += b;
  for (int r = 0; r < ranks; ++r) {
    std::snprintf(b, sizeof b, "<text x=\"8\" y=\"%.1f\">rank %d</text>\n", top + lane * r + lane * 0.6, r);
    s += b;
  }
  for (const Box& bx : boxes) {
    if (bx.t1 < from_ms || bx.t0 > to_ms) continue;
    std::snprintf(b, sizeof b,
                  "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"><title>%s %.3f ms</title></rect>\n",
                  x(bx.t0), top + lane * bx.rank + 3, std::max(0.3, x(bx.t1) - x(bx.t0)), lane - 6, colour(bx.category),
                  escape(bx.name).c_str(), bx.t1 - bx.t0);
    s += b;
  }
  // Time axis: about 8 ticks at a round step.
  const double span = to_ms - from_ms, raw = span / 8, mag = std::pow(10, std::floor(std::log10(raw)));
  const double step = raw / mag < 2 ? mag : raw / mag < 5 ? 2 * mag : 5 * mag;
  const double axis_y = top + lane * ranks + 8;
  for (double t = std::ceil(from_ms / step) * step; t <= to_ms; t += step) {
    std::snprintf(b, sizeof b,
                  "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/><text x=\"%.2f\" y=\"%.1f\" "
                  "text-anchor=\"middle\">%g</text>\n",
                  x(t), x(t), axis_y, axis_y + 5, x(t), axis_y + 18, t);
    s += b;
  }
  std::snprintf(b, sizeof b, "<text x=\"%.0f\" y=\"%.1f\">ms</text>\n", W - 30, axis_y + 18);
  s += b;
  double lx = left;
  for (const char* c : {"compute", "communication", "wait"}) {
    std::snprintf(b, sizeof b, "<rect x=\"%.0f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%.0f\" y=\"%.1f\">%s</text>\n",
                  lx, axis_y + 30, colour(c), lx + 16, axis_y + 40, c);
    s += b;
    lx += 130;
  }
  return s + "</svg>\n";
}

}  // namespace dsv3::dist
