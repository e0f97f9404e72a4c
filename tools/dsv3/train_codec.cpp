#include "train_codec.h"

#include <filesystem>

#include "core/error.h"
#include "train/codec.h"

namespace fs = std::filesystem;

namespace dsv3::cli {

TextCodec make_codec(const std::string& tokenizer, int64_t vocab_size) {
  if (tokenizer == "bytes") {
    if (vocab_size < kByteCodecVocab) fail("--tokenizer bytes needs vocab_size >= ", kByteCodecVocab);
    return byte_codec();
  }
  fail(tokenizer, ": tokenizer folders are not supported yet (use --tokenizer bytes)");
}

void copy_tokenizer_files(const std::string& tokenizer, const std::string& out_dir) {
  if (tokenizer == "bytes") return;
  fs::create_directories(out_dir);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    const fs::path src = fs::path(tokenizer) / f;
    if (fs::exists(src) && !fs::equivalent(src.parent_path(), fs::path(out_dir)))
      fs::copy_file(src, fs::path(out_dir) / f, fs::copy_options::overwrite_existing);
  }
}

}  // namespace dsv3::cli
