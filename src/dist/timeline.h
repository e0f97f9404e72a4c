// What each rank did when: spans of compute, communication and waiting, written as Chrome
// trace-event JSON (opens in Perfetto or chrome://tracing) by `--profile FILE`. One process
// per rank in the viewer (pid = rank), so the ranks' timelines stack and line up.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dist/comm.h"

namespace dsv3::dist {

class Timeline {
 public:
  // Collective: a barrier, then time zero on every rank (so the ranks' clocks line up).
  explicit Timeline(Communicator& comm);

  // Records [construction, destruction) as a span; a null timeline records nothing. name and
  // category must be string literals.
  class Span {
   public:
    Span(Timeline* t, const char* name, const char* category);
    ~Span();
    Span(const Span&) = delete;
    Span& operator=(const Span&) = delete;

   private:
    Timeline* t_;
    const char *name_, *category_;
    double start_;
  };
  void add(const char* name, const char* category, double start_us, double end_us);
  double now_us() const;
  size_t size() const { return events_.size(); }

  // Collective: every rank's events go to rank 0, which writes path (whole, or not at all).
  void write(const std::string& path) const;
  // Microseconds spent in spans of one category.
  double total_us(const std::string& category) const;

 private:
  struct Event {
    const char *name, *category;
    double start_us, dur_us;
  };
  Communicator& comm_;
  std::chrono::steady_clock::time_point zero_;
  std::vector<Event> events_;
};

}  // namespace dsv3::dist
