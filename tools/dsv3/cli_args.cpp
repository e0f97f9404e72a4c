#include "cli_args.h"

#include <cerrno>
#include <cstdlib>

#include "core/error.h"
#include "core/parallel.h"
#include "model/latent_cache.h"

namespace dsv3::cli {

Args::Args(int argc, char** argv, const std::set<std::string>& valued, const std::set<std::string>& flags) {
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flags.count(name) && !inline_value) {
      flags_.insert(name);
    } else if (valued.count(name)) {
      if (!inline_value) {
        if (i + 1 >= argc) fail("option --", name, " needs a value");
        value = argv[++i];
      }
      values_[name] = value;
    } else {
      fail("unknown option --", name);
    }
  }
}

std::string Args::str(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) fail("missing required option --", name);
  return it->second;
}

int64_t Args::integer(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end || errno) fail("option --", name, ": '", it->second, "' is not an integer");
  return v;
}

double Args::number(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end || errno) fail("option --", name, ": '", it->second, "' is not a number");
  return v;
}

std::vector<int32_t> parse_token_list(const std::string& s) {
  std::vector<int32_t> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string item = s.substr(i, j - i);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || errno || v < 0 || v > INT32_MAX) fail("token list: '", item, "' is not a token id");
    out.push_back(int32_t(v));
    i = j + 1;
  }
  return out;
}

void apply_threads(const Args& a) {
  const int64_t n = a.integer("threads", 0);
  if (n < 0) fail("option --threads must be >= 0");
  set_num_threads(int(n));
}

void apply_cache_type(const Args& a) {
  if (a.has("cache-type")) default_cache_type() = parse_cache_type(a.str("cache-type"));
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i <= s.size();) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace dsv3::cli
