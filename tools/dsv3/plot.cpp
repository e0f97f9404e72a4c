#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/json_file.h"

namespace dsv3 {

RunMetrics read_metrics(const std::string& path, const std::string& label) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot read");
  RunMetrics r;
  r.label = label;
  std::string line;
  int64_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (line.empty()) continue;
    r.lines.push_back(parse_json_text(line, cat(path, ":", no)));
  }
  if (r.lines.empty()) fail(path, ": no metrics");
  return r;
}

namespace {

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> pts;
  bool dots = false;
};

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::vector<std::pair<double, double>> smoothed(const std::vector<std::pair<double, double>>& p, int w) {
  if (w <= 1) return p;
  std::vector<std::pair<double, double>> out;
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    sum += p[i].second;
    if (i >= size_t(w)) sum -= p[i - size_t(w)].second;
    out.push_back({p[i].first, sum / double(std::min(i + 1, size_t(w)))});
  }
  return out;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, std::fabs(v) >= 100 || v == std::floor(v) ? "%.0f" : "%.3g", v);
  return b;
}

// One panel: axes with ticks, the series as polylines (or dots), and a legend.
void panel(std::ostringstream& s, double x0, double y0, double w, double h, const std::string& title,
           const std::string& ylabel, const std::vector<Series>& series) {
  double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
  for (const auto& se : series)
    for (const auto& [x, y] : se.pts) {
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      if (x >= xmin + 0.05 * (xmax - xmin) || se.pts.size() < 20) ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  if (xmin > xmax) return;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax <= ymin) ymax = ymin + 1;
  const double pad = 0.05 * (ymax - ymin);
  ymin -= pad, ymax += pad;
  auto X = [&](double x) { return x0 + (x - xmin) / (xmax - xmin) * w; };
  auto Y = [&](double y) { return y0 + h - (std::clamp(y, ymin, ymax) - ymin) / (ymax - ymin) * h; };
  s << "<text x='" << x0 + w / 2 << "' y='" << y0 - 10 << "' text-anchor='middle' font-size='14'>" << title << "</text>\n";
  s << "<rect x='" << x0 << "' y='" << y0 << "' width='" << w << "' height='" << h << "' fill='none' stroke='#444'/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double yv = ymin + (ymax - ymin) * i / 4, xv = xmin + (xmax - xmin) * i / 4;
    s << "<line x1='" << x0 << "' x2='" << x0 + w << "' y1='" << Y(yv) << "' y2='" << Y(yv) << "' stroke='#ddd'/>";
    s << "<text x='" << x0 - 5 << "' y='" << Y(yv) + 4 << "' text-anchor='end' font-size='11'>" << num(yv) << "</text>";
    s << "<text x='" << X(xv) << "' y='" << y0 + h + 15 << "' text-anchor='middle' font-size='11'>" << num(xv) << "</text>\n";
  }
  s << "<text x='" << x0 + w / 2 << "' y='" << y0 + h + 32 << "' text-anchor='middle' font-size='12'>step</text>";
  s << "<text x='" << x0 - 45 << "' y='" << y0 + h / 2 << "' text-anchor='middle' font-size='12' transform='rotate(-90 "
    << x0 - 45 << " " << y0 + h / 2 << ")'>" << ylabel << "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& se = series[i];
    if (se.dots) {
      for (const auto& [x, y] : se.pts)
        s << "<circle cx='" << X(x) << "' cy='" << Y(y) << "' r='3' fill='" << se.color << "'/>";
    } else {
      s << "<polyline fill='none' stroke-width='1.5' stroke='" << se.color << "' points='";
      for (const auto& [x, y] : se.pts) s << X(x) << "," << Y(y) << " ";
      s << "'/>\n";
    }
    const double ly = y0 + 15 + 15 * double(i);
    s << "<rect x='" << x0 + w - 190 << "' y='" << ly - 9 << "' width='10' height='10' fill='" << se.color << "'/>";
    s << "<text x='" << x0 + w - 175 << "' y='" << ly << "' font-size='11'>" << se.name << "</text>\n";
  }
}

double get(const json& j, const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN; }

}  // namespace

std::string metrics_svg(const std::vector<RunMetrics>& runs, const std::string& title, int smooth) {
  std::vector<Series> loss, load, reward, kl;  // reward, kl: GRPO runs (docs/post-training.md)
  size_t color = 0;
  const bool many = runs.size() > 1;
  for (const RunMetrics& r : runs) {
    const std::string pre = many ? r.label + " " : "";
    Series main{pre + "train main", kColors[color++ % 8], {}}, mtp{pre + "train MTP", kColors[color % 8], {}},
        val{pre + "held-out main", many ? main.color : kColors[(color + 1) % 8], {}, true};
    if (!many) color += 2;
    std::vector<Series> layers;
    Series mean_load{r.label + " mean over layers", main.color, {}};
    Series rw{r.label + " mean reward", main.color, {}}, kd{r.label + " KL to reference", main.color, {}};
    for (const json& j : r.lines) {
      const double step = get(j, "step");
      if (j.contains("eval")) {
        val.pts.push_back({step, get(j["eval"], "main")});
        continue;
      }
      main.pts.push_back({step, get(j, "main")});
      if (j.contains("reward")) {
        rw.pts.push_back({step, get(j, "reward")});
        kd.pts.push_back({step, get(j, "kl")});
      }
      if (get(j, "mtp") > 0) mtp.pts.push_back({step, get(j, "mtp")});
      if (!j.contains("load_max_mean")) continue;
      const auto& lm = j["load_max_mean"];
      double sum = 0;
      for (size_t l = 0; l < lm.size(); ++l) {
        if (layers.size() <= l) layers.push_back({cat("MoE layer ", l), kColors[l % 8], {}});
        layers[l].pts.push_back({step, lm[l].get<double>()});
        sum += lm[l].get<double>();
      }
      if (!lm.empty()) mean_load.pts.push_back({step, sum / double(lm.size())});
    }
    for (Series* se : {&main, &mtp, &rw, &kd}) se->pts = smoothed(se->pts, smooth);
    if (!rw.pts.empty()) reward.push_back(rw), kl.push_back(kd);
    loss.push_back(main);
    if (!mtp.pts.empty() && !many) loss.push_back(mtp);
    if (!val.pts.empty()) loss.push_back(val);
    if (many) {
      mean_load.pts = smoothed(mean_load.pts, smooth);
      load.push_back(mean_load);
    } else {
      for (auto& se : layers) se.pts = smoothed(se.pts, smooth), load.push_back(se);
    }
  }
  if (!reward.empty()) load = {};  // GRPO: the reward and the KL in place of the (frozen) balance
  std::ostringstream s;
  const double W = 900, H = load.empty() && reward.empty() ? 380 : reward.empty() ? 740 : 1100;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
    << "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
  s << "<text x='" << W / 2 << "' y='22' text-anchor='middle' font-size='16'>" << title << "</text>\n";
  panel(s, 80, 60, W - 120, 260, "loss (nats/token)", "cross-entropy", loss);
  if (!load.empty()) panel(s, 80, 420, W - 120, 260, "expert load balance", "max load / mean load", load);
  if (!reward.empty()) {
    panel(s, 80, 420, W - 120, 260, "GRPO reward (mean over the step's samples)", "reward", reward);
    panel(s, 80, 780, W - 120, 260, "KL to the reference (eq. 4, mean per output token)", "KL", kl);
  }
  s << "</svg>\n";
  return s.str();
}

std::string metrics_summary(const std::vector<RunMetrics>& runs, int last) {
  std::ostringstream s;
  char buf[400];
  std::snprintf(buf, sizeof buf, "%-12s %6s %9s %8s %9s %8s %9s %9s %9s %10s\n", "run", "steps", "val_loss", "val_ppl",
                "val_mtp", "mtp_acc", "main", "mtp", "load_avg", "load_worst");
  s << buf;
  for (const RunMetrics& r : runs) {
    std::vector<const json*> steps;
    const json* ev = nullptr;
    for (const json& j : r.lines) {
      if (j.contains("eval")) ev = &j;
      else steps.push_back(&j);
    }
    double main = 0, mtp = 0, avg = 0, worst = 0;
    const size_t from = steps.size() > size_t(last) ? steps.size() - size_t(last) : 0;
    for (size_t i = from; i < steps.size(); ++i) {
      const json& j = *steps[i];
      main += get(j, "main"), mtp += get(j, "mtp");
      double a = 0, w = 0;
      const auto& lm = j.value("load_max_mean", json::array());
      for (const auto& x : lm) a += x.get<double>() / double(lm.size()), w = std::max(w, x.get<double>());
      avg += a, worst += w;
    }
    const double n = double(steps.size() - from);
    const json e = ev ? (*ev)["eval"] : json::object();
    std::snprintf(buf, sizeof buf, "%-12s %6lld %9.4f %8.2f %9.4f %8.4f %9.4f %9.4f %9.3f %10.3f\n", r.label.c_str(),
                  steps.empty() ? 0LL : (long long)get(*steps.back(), "step"), get(e, "main"), get(e, "perplexity"),
                  get(e, "mtp"), get(e, "mtp_acc"), main / n, mtp / n, avg / n, worst / n);
    s << buf;
  }
  return s.str();
}

}  // namespace dsv3
