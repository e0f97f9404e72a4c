// Compares a pipeline-parallel training run with the single-process run of the same settings
// (pp_train.sh): usage: pp_compare REF_DIR RUN_DIR PARAM_TOL [EXACT_EXCEPT]
//  - metrics.jsonl: step 1's loss, main, mtp and balance are identical to the bit (same
//    parameters, each micro-batch's terms summed in one process's order); every later value
//    and every step's grad_norm within 1e-6 relative (gradient sums over ranks are reordered).
//  - the final evaluation's main and MTP losses within 1e-6 relative;
//  - model.safetensors: every tensor within PARAM_TOL relative (||run - ref|| / ||ref||); prints
//    the largest difference and how many tensors are identical to the bit. With EXACT_EXCEPT, every tensor whose name
//    does not contain it must be identical to the bit.
// Exit status 0 when everything agrees.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "io/safetensors.h"

namespace {

// The step lines of metrics.jsonl, or with `key` "eval" the evaluations.
std::vector<dsv3::json> metrics(const std::string& dir, const char* key = "loss") {
  std::ifstream in(dir + "/metrics.jsonl");
  std::vector<dsv3::json> out;
  for (std::string line; std::getline(in, line);) {
    const dsv3::json j = dsv3::json::parse(line);
    if (j.contains(key)) out.push_back(j);
  }
  return out;
}

// The last held-out evaluation (run through the pipeline's stages) within 1e-6 relative: the
// parameters it runs on differ in their last bits. (A resumed run also evaluated where it stopped.)
int check_eval(const std::string& ref, const std::string& run) {
  const auto a = metrics(ref, "eval"), b = metrics(run, "eval");
  if (a.empty() || b.empty() || a.back()["step"] != b.back()["step"]) {
    std::printf("eval: no final evaluation at the same step in %s and %s\n", ref.c_str(), run.c_str());
    return 1;
  }
  int bad = 0;
  for (const char* k : {"main", "mtp"}) {
    const double x = a.back()["eval"][k].get<double>(), y = b.back()["eval"][k].get<double>();
    if (std::fabs(x - y) > 1e-6 * std::max(std::fabs(x), 1e-30))
      std::printf("eval %s: %.17g vs %.17g (rel > 1e-6)\n", k, x, y), ++bad;
  }
  return bad;
}

int check_metrics(const std::string& ref, const std::string& run) {
  const auto a = metrics(ref), b = metrics(run);
  if (a.empty() || a.size() != b.size()) {
    std::printf("metrics: %zu step lines in %s, %zu in %s\n", a.size(), ref.c_str(), b.size(), run.c_str());
    return 1;
  }
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (const char* k : {"loss", "main", "mtp", "balance", "grad_norm"}) {
      const double x = a[i][k].get<double>(), y = b[i][k].get<double>();
      const bool exact = i == 0 && std::string(k) != "grad_norm";
      const double rel = std::fabs(x - y) / std::max(std::fabs(x), 1e-30);
      if (exact ? x != y : rel > 1e-6) {
        std::printf("step %zu %s: %.17g vs %.17g (%s)\n", i + 1, k, x, y, exact ? "must be identical" : "rel > 1e-6");
        ++bad;
      }
    }
  }
  return bad;
}

// ||a - b|| / ||b|| of one tensor (0 when both are zero).
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return num == 0 ? 0 : std::sqrt(num / std::max(den, 1e-300));
}

int check_params(const std::string& ref, const std::string& run, double tol, const std::string& except) {
  const dsv3::SafetensorsFile fa(ref + "/model.safetensors"), fb(run + "/model.safetensors");
  int bad = 0, identical = 0;
  double worst = 0, worst_abs = 0;
  std::string worst_name;
  for (const dsv3::TensorInfo& t : fa.tensors()) {
    const dsv3::TensorInfo* u = fb.find(t.name);
    if (!u) {
      std::printf("%s: missing\n", t.name.c_str());
      ++bad;
      continue;
    }
    const std::vector<float> x = dsv3::tensor_to_f32(*u), y = dsv3::tensor_to_f32(t);
    if (x.size() != y.size()) {
      std::printf("%s: %zu vs %zu values\n", t.name.c_str(), x.size(), y.size());
      ++bad;
      continue;
    }
    const double d = relative_difference(x, y);
    for (size_t i = 0; i < x.size(); ++i) worst_abs = std::max(worst_abs, double(std::fabs(x[i] - y[i])));
    identical += d == 0;
    if (d > worst) worst = d, worst_name = t.name;
    if (d > tol) std::printf("%s: relative difference %.3g > %.3g\n", t.name.c_str(), d, tol), ++bad;
    if (!except.empty() && d != 0 && t.name.find(except) == std::string::npos)
      std::printf("%s: differs (relative %.3g) but must be identical to the bit\n", t.name.c_str(), d), ++bad;
  }
  std::printf("parameters: %d of %zu tensors identical to the bit; largest relative difference %.3g%s%s; largest "
              "|difference| %.3g\n",
              identical, fa.tensors().size(), worst, worst_name.empty() ? "" : " in ", worst_name.c_str(), worst_abs);
  return bad;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: pp_compare REF_DIR RUN_DIR PARAM_TOL [EXACT_EXCEPT]\n");
    return 2;
  }
  try {
    const int bad = check_metrics(argv[1], argv[2]) + check_eval(argv[1], argv[2]) + check_params(argv[1], argv[2], std::atof(argv[3]), argc == 5 ? argv[4] : "");
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
