#include "core/proc_fields.h"

#include <cstdio>
#include <cstring>

namespace dsv3 {

int64_t proc_kb_field_bytes(const char* path, const char* key) {
  std::FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  const size_t key_len = std::strlen(key);
  char line[256];
  long long kb = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, key_len)) continue;
    long long v = 0;
    char unit[4] = {};
    if (std::sscanf(line + key_len, " %lld %3s", &v, unit) == 2 && !std::strcmp(unit, "kB")) kb = v;
    break;  // the key appears once: a line without "kB" is not a size
  }
  std::fclose(f);
  return kb < 0 ? -1 : int64_t(kb) * 1024;
}

}  // namespace dsv3
