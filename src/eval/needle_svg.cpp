#include "eval/needle_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "io/json_file.h"

namespace dsv3::eval {

namespace {

constexpr int kCellW = 72, kCellH = 36, kLeft = 90, kTop = 56;

// Red (0) through yellow (0.5) to green (1).
std::string heat(double a) {
  a = std::clamp(a, 0.0, 1.0);
  const int r = a < 0.5 ? 215 : int(215 - (a - 0.5) * 2 * (215 - 26));
  const int g = a < 0.5 ? int(48 + a * 2 * (190 - 48)) : int(190 - (a - 0.5) * 2 * (190 - 150));
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, a < 0.5 ? 39 : 60);
  return buf;
}

std::string num(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

}  // namespace

std::string needle_svg(const json& report, const std::string& title, const std::string& what) {
  if (!report.is_object() || !report.contains("grid") || !report["grid"].is_array() || report["grid"].empty())
    fail(what, ": not the JSON of dsv3 eval --kind passkey --json (no \"grid\")");
  std::set<int64_t> lengths;
  std::set<double> depths;
  std::map<std::pair<int64_t, double>, std::pair<int64_t, int64_t>> cells;  // (length, depth) -> (correct, n)
  for (const json& c : report["grid"]) {
    if (!c.is_object() || !c.contains("length") || !c["length"].is_number_integer() || !c.contains("depth") ||
        !c["depth"].is_number() || !c.contains("n") || !c["n"].is_number_integer() || !c.contains("correct") ||
        !c["correct"].is_number_integer())
      fail(what, ": a grid cell is not {length, depth, n, correct}: ", c.dump());
    const int64_t L = c["length"], n = c["n"], k = c["correct"];
    const double d = c["depth"];
    lengths.insert(L);
    depths.insert(d);
    cells[{L, d}] = {k, n};
  }
  const int width = kLeft + int(depths.size()) * kCellW + 20, height = kTop + int(lengths.size()) * kCellH + 50;
  std::string s = cat("<svg xmlns='http://www.w3.org/2000/svg' width='", width, "' height='", height,
                      "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n",
                      "<text x='", kLeft, "' y='22' font-size='15'>", escape(title), "</text>\n",
                      "<text x='", kLeft, "' y='", kTop - 10, "'>depth of the key in the filler</text>\n",
                      "<text x='12' y='", kTop + 14, "'>length</text>\n");
  int col = 0;
  for (double d : depths)
    s += cat("<text x='", kLeft + col++ * kCellW + kCellW / 2, "' y='", height - 30, "' text-anchor='middle'>", num(d), "</text>\n");
  int row = 0;
  for (int64_t L : lengths) {
    const int y = kTop + row++ * kCellH;
    s += cat("<text x='", kLeft - 8, "' y='", y + kCellH / 2 + 4, "' text-anchor='end'>", L, "</text>\n");
    col = 0;
    for (double d : depths) {
      const int x = kLeft + col++ * kCellW;
      const auto it = cells.find({L, d});
      if (it == cells.end()) continue;
      const auto [k, n] = it->second;
      const double a = n ? double(k) / double(n) : 0.0;
      s += cat("<rect x='", x, "' y='", y, "' width='", kCellW - 2, "' height='", kCellH - 2, "' fill='", heat(a),
               "'><title>length ", L, ", depth ", num(d), ": ", k, " of ", n, "</title></rect>\n",
               "<text x='", x + kCellW / 2 - 1, "' y='", y + kCellH / 2 + 4, "' text-anchor='middle'>", k, "/", n, "</text>\n");
    }
  }
  s += cat("<text x='", kLeft, "' y='", height - 10, "' fill='#555'>red: no key retrieved, green: every key</text>\n");
  return s + "</svg>\n";
}

}  // namespace dsv3::eval
