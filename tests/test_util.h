// Helpers shared by the test programs: fixture paths, comparisons, temp dirs, running the CLI.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace dsv3::test {

std::string data_path(const std::string& rel);          // tests/data/<rel>
std::string model_path(const std::string& name);        // tests/data/models/<name>

float max_abs_diff(const float* a, const float* b, size_t n);

// A fixture name as a GoogleTest parameter name ("v3-tiny" -> "v3_tiny": names allow only
// letters, digits and '_').
std::string test_name(std::string fixture);

// The tolerance for two float32 evaluations of one result that add the same products in other
// orders (or associate them differently): the rounding error of a sum of `terms` products grows
// like sqrt(terms)·ε relative to the values' magnitude (ε = FLT_EPSILON), times a safety factor
// of 4. ref [n] is either evaluation.
float float32_tolerance(const float* ref, size_t n, int64_t terms);

// A fresh empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Copies a directory tree (a fixture checkpoint) so a test can damage the copy.
void copy_dir(const std::string& from, const std::string& to);

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Runs build/dsv3 with the given arguments (shell-quoted by the caller where needed).
RunResult run_dsv3(const std::string& args);

std::vector<float> read_f32_file(const std::string& path);
// n values from N(0, sd²), the same for the same seed (std::mt19937).
std::vector<float> random_vec(size_t n, uint32_t seed, float sd = 1.0f);
std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& s);

}  // namespace dsv3::test
