// libFuzzer: any text given as config.json is either a consistent ModelConfig or a dsv3::Error.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "io/json_file.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const dsv3::ModelConfig c =
        dsv3::parse_config(dsv3::parse_json_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz"), "fuzz");
    if (c.hidden_size < 1 || c.qk_rope_head_dim % 2 != 0) std::abort();
    if (c.n_routed_experts > 0 && (c.topk_group > c.n_group || c.n_routed_experts % c.n_group != 0)) std::abort();
    (void)dsv3::config_to_json(c).dump();
  } catch (const dsv3::Error&) {
  }
  return 0;
}
