// Fuzzes encoding and decoding with the real DeepSeek-V3 tokenizer. Properties checked:
//   - valid UTF-8 encodes, and decodes back to the same bytes;
//   - anything else is rejected with dsv3::Error, never a crash;
//   - the input read as token ids decodes, and streaming decode gives the same text.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace {

const dsv3::Tokenizer& tokenizer() {
  static const dsv3::Tokenizer tok = dsv3::Tokenizer::load(DSV3_SOURCE_DIR "/tests/data/tokenizer/deepseek-v3");
  return tok;
}

void check_round_trip(const dsv3::Tokenizer& tok, const std::string& text) {
  const bool valid = dsv3::utf8::find_invalid(text) == std::string::npos;
  try {
    const auto ids = tok.encode(text);
    if (!valid) std::abort();  // invalid UTF-8 must be rejected
    if (tok.decode(ids) != text) std::abort();
  } catch (const dsv3::Error&) {
    if (valid) std::abort();  // valid text must encode
  }
}

void check_decoders_agree(const dsv3::Tokenizer& tok, const uint8_t* data, size_t size) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 3 <= size; i += 3) ids.push_back(int32_t((data[i] << 16 | data[i + 1] << 8 | data[i + 2]) % 128815));
  std::erase_if(ids, [&](int32_t id) { return !tok.has_id(id); });
  const std::string whole = tok.decode(ids);
  dsv3::StreamDecoder stream(tok);
  std::string pieces;
  for (const int32_t id : ids) pieces += stream.push(id);
  pieces += stream.finish();
  if (pieces != whole || dsv3::utf8::find_invalid(whole) != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const dsv3::Tokenizer& tok = tokenizer();
  check_round_trip(tok, std::string(reinterpret_cast<const char*>(data), size));
  check_decoders_agree(tok, data, size);
  return 0;
}
