// dsv3 data: text or JSONL files -> a folder of token shards that `dsv3 train --data DIR`
// memory-maps (format: src/train/token_shards.h). Streams: memory holds one batch of documents
// and the current shard's document offsets, whatever the corpus size.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "io/file_list.h"
#include "io/json_file.h"
#include "tokenizer/tokenizer.h"
#include "train/codec.h"
#include "train/token_shards.h"
#include "train_codec.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 data --tokenizer DIR|bytes --input PATH[,PATH...] --out DIR [--doc-split file|blank|line]\n"
    "                 [--shard-tokens 67108864] [--threads N]\n"
    "       dsv3 data --verify DIR\n"
    "Tokenizes documents (JSONL lines {\"text\": ...}; plain-text files split as --doc-split says, as\n"
    "dsv3 train does) on all threads into token shards with a document index; progress on stderr.\n"
    "--verify re-reads a shard folder and checks every checksum and token id.\n";

constexpr size_t kBatchBytes = size_t(4) << 20;  // text tokenized per batch (bounds memory)

// Calls add(text) for each document of the files, in order, reading line by line.
class DocumentStream {
 public:
  DocumentStream(std::string split, std::function<void(std::string)> add) : split_(std::move(split)), add_(std::move(add)) {
    if (split_ != "file" && split_ != "blank" && split_ != "line") fail("--doc-split '", split_, "' is not file, blank or line");
  }
  void file(const std::string& path, const std::function<void(size_t)>& progress) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, ": cannot read");
    const bool jsonl = path.size() > 6 && path.compare(path.size() - 6, 6, ".jsonl") == 0;
    std::string line, cur;
    int64_t no = 0;
    while (std::getline(in, line)) {
      ++no;
      progress(line.size() + 1);
      const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
      if (jsonl) {
        if (blank) continue;
        const json j = parse_json_text(line, cat(path, ":", no));
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) fail(path, ":", no, ": expected {\"text\": \"...\"}");
        keep(j["text"].get<std::string>());
      } else if (split_ == "line") {
        if (!blank) keep(line);
      } else if (split_ == "blank" && blank) {
        keep(std::move(cur));
        cur.clear();
      } else {
        cur += line;
        if (split_ == "blank" || !in.eof()) cur += '\n';
      }
    }
    if (!jsonl && split_ != "line") keep(std::move(cur));
  }

 private:
  void keep(std::string s) {
    if (s.find_first_not_of(" \t\r\n") != std::string::npos) add_(std::move(s));
  }
  std::string split_;
  std::function<void(std::string)> add_;
};

int verify(const std::string& dir) {
  const TokenShards s(dir);
  s.verify();
  std::printf("%s: %lld documents, %lld tokens, every checksum and token id correct\n", dir.c_str(),
              (long long)s.documents(), (long long)s.tokens());
  return 0;
}

}  // namespace

int cmd_data(int argc, char** argv) {
  const Args a(argc, argv, {"tokenizer", "input", "out", "doc-split", "shard-tokens", "threads", "verify"}, {"help"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  apply_threads(a);
  if (a.has("verify")) return verify(a.str("verify"));
  const std::string tok = a.required("tokenizer"), out = a.required("out");
  const int64_t vocab = tok == "bytes" ? kByteCodecVocab : Tokenizer::load(tok).vocab_size();
  const TextCodec codec = make_codec(tok, vocab);
  const std::vector<std::string> files = expand_input_files(split_list(a.required("input")));
  TokenShardWriter writer(out, codec.eos, vocab, a.integer("shard-tokens", int64_t(1) << 26));

  size_t total_bytes = 0, done_bytes = 0, batch_bytes = 0;
  for (const auto& f : files) {
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0) total_bytes += size_t(st.st_size);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  double last_report = 0;
  std::vector<std::string> batch;
  auto flush = [&] {
    for (const auto& ids : codec.encode_batch(batch)) writer.add(ids);
    batch.clear();
    batch_bytes = 0;
    const double s = seconds();
    if (s - last_report >= 5) {
      last_report = s;
      const double rate = double(done_bytes) / 1e6 / s;
      std::fprintf(stderr, "data: %.1f of %.1f MB (%.0f%%), %.2f MB/s, ETA %.0f s, %lld documents, %lld tokens\n",
                   double(done_bytes) / 1e6, double(total_bytes) / 1e6, 100.0 * double(done_bytes) / double(std::max<size_t>(total_bytes, 1)),
                   rate, double(total_bytes - std::min(total_bytes, done_bytes)) / 1e6 / std::max(rate, 1e-9),
                   (long long)writer.documents(), (long long)writer.tokens());
    }
  };
  DocumentStream docs(a.str("doc-split", "file"), [&](std::string d) {
    batch_bytes += d.size();
    batch.push_back(std::move(d));
    if (batch_bytes >= kBatchBytes) flush();
  });
  for (const auto& f : files) docs.file(f, [&](size_t n) { done_bytes += n; });
  flush();
  writer.finish();
  const double s = seconds();
  std::fprintf(stderr, "data: %lld documents, %lld tokens -> %s; %.1f MB of text in %.2f s (%.2f MB/s)\n",
               (long long)writer.documents(), (long long)writer.tokens(), out.c_str(), double(total_bytes) / 1e6, s,
               double(total_bytes) / 1e6 / std::max(s, 1e-9));
  return 0;
}

}  // namespace dsv3::cli
