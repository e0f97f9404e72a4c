#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <cstring>

namespace fs = std::filesystem;

namespace dsv3::test {

std::string data_path(const std::string& rel) { return std::string(DSV3_TEST_DATA) + "/" + rel; }
std::string model_path(const std::string& name) { return data_path("models/" + name); }

float float32_tolerance(const float* ref, size_t n, int64_t terms) {
  float scale = 0.0f;
  for (size_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(ref[i]));
  return 4.0f * std::sqrt(float(terms)) * FLT_EPSILON * scale;
}

std::string test_name(std::string fixture) {
  std::replace(fixture.begin(), fixture.end(), '-', '_');
  return fixture;
}

float max_abs_diff(const float* a, const float* b, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (!(d <= m)) m = d;  // NaN propagates as a failure
  }
  return m;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "dsv3-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void copy_dir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  for (const auto& e : fs::recursive_directory_iterator(to))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& s) {
  std::ofstream out(path, std::ios::binary);
  out << s;
}

RunResult run_dsv3(const std::string& args) {
  TempDir tmp;
  const std::string cmd = std::string(DSV3_BINARY) + " " + args + " >" + tmp.file("out") + " 2>" + tmp.file("err");
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text(tmp.file("out"));
  r.err = read_text(tmp.file("err"));
  return r;
}

std::vector<float> read_f32_file(const std::string& path) {
  const std::string s = read_text(path);
  std::vector<float> v(s.size() / 4);
  std::memcpy(v.data(), s.data(), v.size() * 4);
  return v;
}

std::vector<float> random_vec(size_t n, uint32_t seed, float sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

}  // namespace dsv3::test
