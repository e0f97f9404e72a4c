// libFuzzer: the input's first line is a JSON Schema, the rest a candidate output. The schema
// compiles or is a dsv3::Error; the matcher takes any bytes without crashing; and whatever it
// accepts as a complete value parses as JSON (constrained decoding never emits invalid JSON).
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "infer/json_matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const nlohmann::json schema = nlohmann::json::parse(in.substr(0, nl), nullptr, false);
  if (schema.is_discarded()) return 0;
  try {
    const dsv3::JsonGrammar g = dsv3::JsonGrammar::from_schema(schema);
    dsv3::JsonMatcher m(g);
    const std::string out = nl == std::string::npos ? "" : in.substr(nl + 1);
    if (m.feed(out) && m.accepting() && !nlohmann::json::accept(out)) std::abort();
  } catch (const dsv3::Error&) {
  }
  return 0;
}
