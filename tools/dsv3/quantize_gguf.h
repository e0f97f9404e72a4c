// dsv3 quantize --format gguf: the model as a llama.cpp deepseek2 GGUF (model/gguf_export.h).
#pragma once
#include "cli_args.h"

namespace dsv3::cli {

extern const char* kQuantizeGgufUsage;
int quantize_to_gguf(const Args& a);

}  // namespace dsv3::cli
