// libFuzzer: any text given as a schedule trace is read, drawn and re-simulated, or is a
// dsv3::Error — never a crash or a hang.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "pipeline/calibrate.h"
#include "pipeline/schedule_svg.h"
#include "pipeline/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const dsv3::pipeline::Trace t = dsv3::pipeline::read_trace(dsv3::parse_json_text(text, "fuzz"), "fuzz");
    if (t.ops.empty() || t.ranks < 1) std::abort();
    (void)dsv3::pipeline::bubble_table(t);
    if (t.end > t.start) (void)dsv3::pipeline::trace_svg(t, "fuzz");
    // Re-simulation is bounded by make_schedule (2^18 chunks); big but valid ones are only slow,
    // so the fuzzer keeps to small ones.
    if (int64_t(t.ranks) * t.micro_batches <= 4096) (void)dsv3::pipeline::check_bubble(t);
  } catch (const dsv3::Error&) {
  }
  return 0;
}
