// libFuzzer: any byte string given to the safetensors parser is either accepted (every tensor's
// bytes lie inside the input and match its dtype and shape) or rejected with dsv3::Error.
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::map<std::string, std::string> meta;
    const auto tensors = dsv3::parse_safetensors(data, size, "fuzz", &meta);
    for (const auto& t : tensors) {
      if (t.data < data || t.data + t.nbytes > data + size) std::abort();
      if (size_t(t.numel()) * dsv3::dtype_size(t.dtype) != t.nbytes) std::abort();
      if (t.nbytes <= 4096 && t.dtype != dsv3::DType::I64 && t.dtype != dsv3::DType::I32 &&
          t.dtype != dsv3::DType::I16 && t.dtype != dsv3::DType::I8 && t.dtype != dsv3::DType::U8 &&
          t.dtype != dsv3::DType::BOOL)
        (void)dsv3::tensor_to_f32(t);
    }
  } catch (const dsv3::Error&) {
  }
  return 0;
}
