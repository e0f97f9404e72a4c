// Errors at the boundary (files, configs, requests, command lines) are thrown as dsv3::Error
// with one line that names the thing at fault; the core math assumes validated input.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dsv3 {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Concatenates anything streamable into one string: cat("tensor ", name, " has ", n, " bytes").
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(cat(args...));
}

}  // namespace dsv3
