#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "kernels/isa_kernels.h"

namespace dsv3 {

namespace {
bool cpu_has(const char* isa) {
#if defined(__x86_64__)
  if (!std::strcmp(isa, "avx512"))
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  if (!std::strcmp(isa, "avx512bf16"))
    return cpu_has("avx512") && __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("avx512vbmi");  // vpermi2b: FP8 codes to BF16 (bf16_dot_kernels.inc)
  if (!std::strcmp(isa, "avx2"))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return !std::strcmp(isa, "generic");
}

const IsaKernels& pick() {
  if (const char* forced = std::getenv("DSV3_ISA")) {
    if (const IsaKernels* k = isa_kernels_by_name(forced)) return *k;
    fail("DSV3_ISA=", forced, ": not built or not supported by this CPU");
  }
  for (const char* name : {"avx512bf16", "avx512", "avx2", "generic"})
    if (const IsaKernels* k = isa_kernels_by_name(name)) return *k;
  return *isa_kernels_generic();
}
}  // namespace

const IsaKernels* isa_kernels_by_name(const char* name) {
  if (!cpu_has(name)) return nullptr;
#if defined(DSV3_HAVE_X86_ISAS)
  if (!std::strcmp(name, "avx512bf16")) return isa_kernels_avx512bf16();
  if (!std::strcmp(name, "avx512")) return isa_kernels_avx512();
  if (!std::strcmp(name, "avx2")) return isa_kernels_avx2();
#endif
  if (!std::strcmp(name, "generic")) return isa_kernels_generic();
  return nullptr;
}

const IsaKernels& isa_kernels() {
  static const IsaKernels& k = pick();
  return k;
}

}  // namespace dsv3
