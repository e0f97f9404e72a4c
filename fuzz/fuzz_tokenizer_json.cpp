// Fuzzes the tokenizer.json / tokenizer_config.json loader: any bytes either load or give
// dsv3::Error; a tokenizer that loads must encode and decode without crashing.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    // The same object serves as tokenizer_config.json, so its fields are read too.
    const dsv3::Tokenizer tok = dsv3::Tokenizer::from_json(j, &j, "fuzz");
    for (const char* s : {"Hello, world! 123 你好", "  \n\t<s> x", "\xEF\xBB\xBF a\xC2\x85"}) {
      const auto ids = tok.encode(s);
      (void)tok.decode(ids);
    }
    try {
      (void)tok.render_chat(nlohmann::json::parse(R"([{"role":"user","content":"hi"}])"), true);
    } catch (const dsv3::Error&) {
    }
  } catch (const dsv3::Error&) {
  }
  return 0;
}
