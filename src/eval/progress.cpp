#include "eval/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace dsv3::eval {

namespace {

std::string duration(double s) {
  if (s < 0) return "?";
  const int64_t t = int64_t(s + 0.5);
  if (t < 60) return cat(t, "s");
  if (t < 3600) return cat(t / 60, "m", (t % 60 < 10 ? "0" : ""), t % 60, "s");
  return cat(t / 3600, "h", (t % 3600) / 60 < 10 ? "0" : "", (t % 3600) / 60, "m");
}

}  // namespace

bool progress_wanted() {
  const char* e = std::getenv("DSV3_PROGRESS");
  if (e) return std::strcmp(e, "0") != 0;
  return isatty(STDERR_FILENO);
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()), last_(start_) {}

Progress::~Progress() { finish(); }

std::string Progress::line(const std::string& label, int64_t done, int64_t total, double elapsed) {
  const double eta = done > 0 ? elapsed / double(done) * double(total - done) : -1.0;
  return cat(label, "  ", done, "/", total, "  ", duration(elapsed), " elapsed  ETA ", done >= total ? "0s" : duration(eta));
}

void Progress::update(int64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && open_ && now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  open_ = true;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r%s\033[K", line(label_, done, total_, elapsed).c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!open_) return;
  std::fputc('\n', stderr);
  open_ = false;
}

}  // namespace dsv3::eval
