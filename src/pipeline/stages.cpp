#include "pipeline/stages.h"

#include <algorithm>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace dsv3::pipeline {

namespace {

int head_stage(HeadStage head, int stages) { return head == HeadStage::kFirst ? 0 : stages - 1; }

// Cost of layers [a, b) placed on stage `stage` of `stages`.
double range_flops(const ModelCost& m, const std::vector<double>& prefix, int a, int b, int stage, int stages,
                   HeadStage head) {
  double f = prefix[size_t(b)] - prefix[size_t(a)];
  if (stage == head_stage(head, stages)) f += m.head.flops_per_token + m.mtp.flops_per_token;
  return f;
}

}  // namespace

std::vector<StageRange> stage_ranges(const std::vector<int>& stage_layers) {
  std::vector<StageRange> r;
  int64_t at = 0;
  for (int n : stage_layers) {
    r.push_back({at, at + n});
    at += n;
  }
  return r;
}

std::vector<int> balanced_stage_layers(const ModelCost& m, int stages, HeadStage head) {
  const int n = int(m.layers.size());
  if (stages < 1) fail("pipeline: need at least one stage");
  if (n < stages) fail("pipeline: ", n, " decoder layers cannot fill ", stages, " stages (each stage needs a layer)");
  std::vector<double> prefix(size_t(n) + 1, 0);
  for (int i = 0; i < n; ++i) prefix[size_t(i) + 1] = prefix[size_t(i)] + m.layers[size_t(i)].flops_per_token;
  // best[s][i]: smallest possible max stage cost putting layers [0, i) on stages [0, s).
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(size_t(stages) + 1, std::vector<double>(size_t(n) + 1, inf));
  std::vector<std::vector<int>> cut(size_t(stages) + 1, std::vector<int>(size_t(n) + 1, 0));
  best[0][0] = 0;
  for (int s = 1; s <= stages; ++s)
    for (int i = s; i <= n - (stages - s); ++i)
      for (int j = s - 1; j < i; ++j) {
        const double c = std::max(best[size_t(s) - 1][size_t(j)], range_flops(m, prefix, j, i, s - 1, stages, head));
        if (c < best[size_t(s)][size_t(i)]) best[size_t(s)][size_t(i)] = c, cut[size_t(s)][size_t(i)] = j;
      }
  std::vector<int> layers(static_cast<size_t>(stages), 0);
  for (int s = stages, i = n; s > 0; --s) {
    const int j = cut[size_t(s)][size_t(i)];
    layers[size_t(s) - 1] = i - j;
    i = j;
  }
  return layers;
}

std::vector<int> parse_stage_layers(const std::string& text, int stages, int layers) {
  std::vector<int> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size()) fail("--stage-layers: '", item, "' is not a layer count");
    if (v < 1) fail("--stage-layers: stage ", out.size(), " has ", v, " layers (every stage needs at least one)");
    out.push_back(v);
  }
  if (int(out.size()) != stages) fail("--stage-layers: ", out.size(), " counts for ", stages, " stages");
  int sum = 0;
  for (int v : out) sum += v;
  if (sum != layers) fail("--stage-layers: counts sum to ", sum, " but the model has ", layers, " decoder layers");
  return out;
}

std::vector<double> stage_flops(const ModelCost& m, const std::vector<int>& stage_layers, HeadStage head) {
  std::vector<double> f;
  int first = 0;
  for (size_t s = 0; s < stage_layers.size(); ++s) {
    double sum = 0;
    for (int i = first; i < first + stage_layers[s]; ++i) sum += m.layers[size_t(i)].flops_per_token;
    if (int(s) == head_stage(head, int(stage_layers.size()))) sum += m.head.flops_per_token + m.mtp.flops_per_token;
    f.push_back(sum);
    first += stage_layers[s];
  }
  return f;
}

std::string placement_text(const Schedule& s, const std::vector<int>& stage_layers) {
  std::vector<int> first(stage_layers.size() + 1, 0);
  for (size_t i = 0; i < stage_layers.size(); ++i) first[i + 1] = first[i] + stage_layers[i];
  const auto stage_text = [&](int st) {
    std::string t = cat("stage ", st, " (layers ", first[size_t(st)], "-", first[size_t(st) + 1] - 1);
    if (st == 0) t += ", embedding";
    if (st == s.stages - 1) t += ", head, MTP";
    return t + ")";
  };
  std::ostringstream os;
  for (int r = 0; r < s.ranks; ++r) {
    os << "  rank " << r << ":";
    std::vector<int> held;
    for (int d = 0; d < s.dirs; ++d)
      for (int st = 0; st < s.stages; ++st)
        if (s.rank_of(d, st) == r && std::find(held.begin(), held.end(), st) == held.end()) held.push_back(st);
    for (size_t i = 0; i < held.size(); ++i) os << (i ? " + " : " ") << stage_text(held[i]);
    os << '\n';
  }
  return os.str();
}

}  // namespace dsv3::pipeline
