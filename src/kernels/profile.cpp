#include "kernels/profile.h"

#include <cstring>

namespace dsv3::profile {

namespace {
bool g_on = false;
std::vector<Entry> g_entries;
}  // namespace

void enable(bool on) { g_on = on; }
bool enabled() { return g_on; }

void add(const char* op, int64_t layer, double seconds) {
  for (Entry& e : g_entries)
    if (e.layer == layer && e.op == op) {
      e.seconds += seconds;
      ++e.calls;
      return;
    }
  g_entries.push_back({op, layer, seconds, 1});
}

std::vector<Entry> take() {
  std::vector<Entry> out;
  out.swap(g_entries);
  return out;
}

}  // namespace dsv3::profile
