#pragma once
// Reading one "Key:   N kB" line of a Linux /proc file (meminfo, self/status, self/smaps_rollup):
// the memory figures the loader, the 2 MB-page report and the expert-parallel run print.

#include <cstdint>

namespace dsv3 {

// The value of `key` (with its colon, e.g. "MemAvailable:") in /proc file `path`, in bytes;
// -1 when the file cannot be read or has no such line (not Linux, or an older kernel).
int64_t proc_kb_field_bytes(const char* path, const char* key);

}  // namespace dsv3
