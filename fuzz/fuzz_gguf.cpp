// libFuzzer: any byte string given to the GGUF parser is either accepted (every tensor's bytes
// lie inside the input and are whole blocks of its type, which dequantize) or rejected with
// dsv3::Error.
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const dsv3::GgufContents c = dsv3::parse_gguf(data, size, "fuzz");
    for (const auto& t : c.tensors) {
      if (t.data < data || t.data + t.nbytes > data + size) std::abort();
      const dsv3::GgmlTypeInfo* info = dsv3::ggml_type_info(t.type);
      if (!info || size_t(t.numel() / info->block) * info->block_bytes != t.nbytes) std::abort();
      if (t.nbytes <= 4096) (void)dsv3::gguf_to_f32(t);
    }
  } catch (const dsv3::Error&) {
  }
  return 0;
}
