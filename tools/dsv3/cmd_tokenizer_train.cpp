// dsv3 tokenizer-train: a byte-level BPE with DeepSeek-V3's pre-tokenizer, special tokens and
// chat template, trained on text files.
#include <chrono>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "io/file_list.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/deepseek_format.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_writer.h"
#include "tokenizer/utf8.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 tokenizer-train --input FILES --vocab-size N --out DIR [--min-frequency F] [--threads N]\n"
    "  --input FILES      comma-separated text files or folders (every file below them)\n"
    "  --vocab-size N     ids in all: BPE tokens (256 bytes + merges) and the special tokens\n"
    "  --out DIR          writes DIR/tokenizer.json and DIR/tokenizer_config.json\n"
    "  --min-frequency F  stop merging when the best pair occurs fewer than F times (default 2)\n"
    "Bytes that are not UTF-8 are read as U+FFFD (and counted).\n";


std::string read_utf8(const std::string& path, size_t& replaced) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  if (utf8::find_invalid(s) == std::string::npos) return s;
  ++replaced;
  return utf8::to_valid_lossy(s);
}

// Pieces of about 1 MB cut after a newline, so threads share the work.
std::vector<std::string_view> chunks_of(const std::string& text) {
  std::vector<std::string_view> out;
  constexpr size_t kChunk = 1 << 20;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = begin + kChunk >= text.size() ? text.size() : text.find('\n', begin + kChunk);
    end = end == std::string::npos ? text.size() : end + 1;
    out.push_back(std::string_view(text).substr(begin, end - begin));
    begin = end;
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int cmd_tokenizer_train(int argc, char** argv) {
  const Args a(argc, argv, {"input", "vocab-size", "out", "min-frequency", "threads"}, {"help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  apply_threads(a);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t vocab_size = a.integer("vocab-size", -1);
  const int64_t specials = int64_t(special_token_count());
  if (vocab_size < 256 + specials) fail("--vocab-size must be at least ", 256 + specials, " (256 bytes + special tokens)");
  const std::string out_dir = a.required("out");
  const auto files = expand_input_files(split_list(a.required("input")));

  size_t bytes = 0, replaced = 0;
  std::vector<std::string> texts;
  std::vector<std::string_view> chunks;
  for (const auto& f : files) texts.push_back(read_utf8(f, replaced));
  for (const auto& t : texts) {
    bytes += t.size();
    for (auto c : chunks_of(t)) chunks.push_back(c);
  }
  if (replaced) std::fprintf(stderr, "%zu file(s) had bytes that are not UTF-8; read as U+FFFD\n", replaced);

  PreTokenizer pre;
  pre.add_from_json(nlohmann::json::parse(deepseek_format::pre_tokenizer().dump()), "DeepSeek-V3 pre-tokenizer");
  std::vector<AddedToken> added;
  for (const auto* list : {&deepseek_format::leading_tokens(), &deepseek_format::trailing_tokens()})
    for (const auto& t : *list) added.push_back({int32_t(added.size()), t.content, t.special, false, false});
  const WordCounts words = count_words(chunks, pre, AddedTokens(std::move(added)));
  std::fprintf(stderr, "%zu files, %.1f MB, %zu distinct words in %.1f s\n", files.size(), double(bytes) / 1e6,
               words.size(), seconds_since(t0));

  BpeTrainOptions opt;
  opt.vocab_size = size_t(vocab_size - specials);
  opt.min_frequency = a.integer("min-frequency", 2);
  opt.log = [&](const std::string& line) { std::fprintf(stderr, "%s (%.1f s)\n", line.c_str(), seconds_since(t0)); };
  const BpeVocab vocab = train_bpe(words, opt);
  write_tokenizer_dir(out_dir, vocab);

  const Tokenizer tok = Tokenizer::load(out_dir);
  std::fprintf(stderr, "wrote %s: %d ids (%zu BPE tokens, %zu merges) in %.1f s\n", out_dir.c_str(), tok.vocab_size(),
               vocab.tokens.size(), vocab.merges.size(), seconds_since(t0));
  if (vocab.tokens.size() < opt.vocab_size)
    std::fprintf(stderr, "note: the corpus ran out of pairs seen %lld+ times; the vocab is smaller than asked\n",
                 (long long)opt.min_frequency);
  return 0;
}

}  // namespace dsv3::cli
