#include <cstring>

#include "kernels/isa_kernels.h"
#include "kernels/quant_kernels.h"

namespace dsv3 {

const QuantKernels* quant_kernels_by_name(const char* name) {
  if (!isa_kernels_by_name(name)) return nullptr;
#if defined(DSV3_HAVE_X86_ISAS)
  if (!std::strcmp(name, "avx512bf16")) return quant_kernels_avx512();  // AVX-512 with VNNI (and BF16)
  if (!std::strcmp(name, "avx512"))
    return __builtin_cpu_supports("avx512vnni") ? quant_kernels_avx512() : quant_kernels_avx2();
  if (!std::strcmp(name, "avx2")) return quant_kernels_avx2();
#endif
  if (!std::strcmp(name, "generic")) return quant_kernels_generic();
  return nullptr;
}

const QuantKernels& quant_kernels() {
  static const QuantKernels& k = *quant_kernels_by_name(isa_kernels().name);
  return k;
}

}  // namespace dsv3
