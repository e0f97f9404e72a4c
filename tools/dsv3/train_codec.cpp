#include "train_codec.h"

#include <filesystem>
#include <memory>

#include "core/error.h"
#include "io/json_file.h"
#include "train/codec.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;

namespace dsv3::cli {

namespace {

TextCodec tokenizer_codec(const std::string& dir, int64_t vocab_size) {
  auto tok = std::make_shared<Tokenizer>(Tokenizer::load(dir));
  if (tok->vocab_size() > vocab_size)
    fail(dir, ": the tokenizer has ", tok->vocab_size(), " ids but the model's vocab_size is ", vocab_size);
  TextCodec c;
  c.encode_batch = [tok](const std::vector<std::string>& texts) { return tok->encode_batch(texts); };
  if (!tok->config().chat_template.empty())
    c.render_chat = [tok](const json& messages, bool gen) { return tok->render_chat(messages, gen); };
  c.eos = tok->eos_id();
  c.fim_begin = tok->token_to_id("<｜fim▁begin｜>").value_or(-1);
  c.fim_hole = tok->token_to_id("<｜fim▁hole｜>").value_or(-1);
  c.fim_end = tok->token_to_id("<｜fim▁end｜>").value_or(-1);
  return c;
}

}  // namespace

TextCodec make_codec(const std::string& tokenizer, int64_t vocab_size) {
  if (tokenizer == "bytes") {
    if (vocab_size < kByteCodecVocab) fail("--tokenizer bytes needs vocab_size >= ", kByteCodecVocab);
    return byte_codec();
  }
  return tokenizer_codec(tokenizer, vocab_size);
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
