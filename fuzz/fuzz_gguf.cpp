// libFuzzer: any byte string given to the GGUF parser is either accepted (every tensor's bytes
// lie inside the input and are whole blocks of its type, which dequantize) or rejected with
// dsv3::Error. An accepted file's metadata read as a deepseek2 config and as a tokenizer is
// likewise either accepted or one Error.
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "io/gguf.h"
#include "model/gguf_config.h"
#include "tokenizer/gguf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const dsv3::GgufContents c = dsv3::parse_gguf(data, size, "fuzz");
    for (const auto& t : c.tensors) {
      if (t.data < data || t.data + t.nbytes > data + size) std::abort();
      const dsv3::GgmlTypeInfo* info = dsv3::ggml_type_info(t.type);
      if (!info || size_t(t.numel() / info->block) * info->block_bytes != t.nbytes) std::abort();
      if (t.nbytes <= 4096) (void)dsv3::gguf_to_f32(t);
    }
    try {
      (void)dsv3::gguf_model_config(c, "fuzz");
    } catch (const dsv3::Error&) {
    }
    (void)dsv3::tokenizer_from_gguf(c, "fuzz");
  } catch (const dsv3::Error&) {
  }
  return 0;
}
