// Command-line options of the form `--name value` and `--flag`. Each command declares the
// options it takes, so a misspelt option is an error rather than silently ignored.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace dsv3::cli {

class Args {
 public:
  // valued: options that take a value; flags: options that do not.
  Args(int argc, char** argv, const std::set<std::string>& valued, const std::set<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) || flags_.count(name); }
  std::string str(const std::string& name, const std::string& fallback = "") const;
  std::string required(const std::string& name) const;
  int64_t integer(const std::string& name, int64_t fallback) const;
  double number(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

// "5,9,13" -> {5, 9, 13}; throws Error on anything else.
std::vector<int32_t> parse_token_list(const std::string& s);

// "a,b,,c" -> {"a", "b", "c"}: a comma-separated list, empty items dropped.
std::vector<std::string> split_list(const std::string& s);

// --threads N (default: all cores)
void apply_threads(const Args& a);

// --cache-type f32|bf16|fp8: the latent cache's storage (model/latent_cache.h); unset keeps the
// command's default (bf16 for generate, chat, serve, bench; DSV3_CACHE_TYPE overrides it).
void apply_cache_type(const Args& a);

}  // namespace dsv3::cli
