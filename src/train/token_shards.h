// Pre-tokenized training data: a folder of token shards written once by `dsv3 data` and
// memory-mapped by `dsv3 train --data DIR`, so a run starts without reading or tokenizing text
// and holds no copy of the corpus. Format (little-endian; docs/distributed.md#token-shards):
//
//   DIR/shard-NNNNN.tok   header (64 bytes): magic "DSV3TOK" + '\0', u32 version (2; 1 read),
//                         u32 bytes per token (4), u64 documents, u64 tokens,
//                         u64 checksum (FNV-1a over the token bytes, then the doc_end bytes; version 1
//                         started from a mistyped offset basis, core/hash.h),
//                         24 reserved zero bytes;
//                         then u32 tokens[tokens] (each document followed by eos), zero-padded
//                         to a multiple of 8 bytes,
//                         then u64 doc_end[documents] (each document's end, in tokens, eos included)
//   DIR/index.json        {"format": "dsv3-token-shards", "version": 2, "eos", "vocab_size",
//                          "documents", "tokens", "shards": [{"file", "documents", "tokens", "checksum"}]}
//
// Every file is written under a temporary name and renamed when complete; index.json comes
// last, so a folder without it is an interrupted write, never a silently short corpus.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/mapped_file.h"
#include "train/data.h"

namespace dsv3 {

// Writes documents' token ids into shards of about shard_tokens tokens. Memory: the current
// shard's document offsets only; tokens go to disk as they come.
class TokenShardWriter {
 public:
  TokenShardWriter(const std::string& dir, int32_t eos, int64_t vocab_size, int64_t shard_tokens);
  ~TokenShardWriter();
  void add(const std::vector<int32_t>& ids);  // one document; eos is appended
  void finish();                              // closes the last shard, writes index.json
  int64_t documents() const { return docs_total_; }
  int64_t tokens() const { return tokens_total_; }

 private:
  void open_shard();
  void close_shard();
  std::string dir_;
  int32_t eos_;
  int64_t vocab_, shard_tokens_;
  FILE* f_ = nullptr;
  std::string tmp_path_;
  std::vector<uint64_t> doc_end_;
  uint64_t tokens_ = 0, hash_ = 0;
  int64_t docs_total_ = 0, tokens_total_ = 0;
  struct Done {
    std::string file;
    int64_t docs, tokens;
    uint64_t checksum;
  };
  std::vector<Done> shards_;
  bool finished_ = false;
};

// A shard folder, memory-mapped and checked (index, headers, sizes, document offsets) on open;
// verify() also recomputes every checksum (reads everything).
class TokenShards {
 public:
  explicit TokenShards(const std::string& dir);
  static bool is_shard_dir(const std::string& path);  // holds index.json of this format

  int64_t tokens() const { return total_; }
  int64_t documents() const { return docs_; }
  int32_t eos() const { return eos_; }
  int64_t vocab_size() const { return vocab_; }
  // out [n] = the corpus's tokens [offset, offset + n), across shard boundaries.
  void read(int64_t offset, int64_t n, int32_t* out) const;
  void verify() const;

 private:
  struct Shard {
    std::unique_ptr<MappedFile> file;
    const uint32_t* tokens;
    const uint64_t* doc_end;
    int64_t n_tokens, n_docs, begin;  // begin: offset of its first token in the corpus
    uint64_t checksum;
  };
  std::string dir_;
  std::vector<Shard> shards_;
  int64_t total_ = 0, docs_ = 0, vocab_ = 0;
  int32_t eos_ = -1;
  uint64_t basis_ = 0;  // the checksums' FNV-1a starting value (differs in version 1)
};

// Training or held-out sequences of T tokens over a shard folder: the corpus is one stream of
// documents (as written) cut into windows of T; with val_fraction f > 0, every M-th window
// (M = round(1/f), starting at an offset drawn from seed) is held out. Read on demand.
std::shared_ptr<const SequenceSource> shard_sequences(std::shared_ptr<const TokenShards> shards, int64_t T,
                                                      double val_fraction, uint64_t seed, bool validation);

// The training and held-out sets of `dsv3 train --data DIR` when DIR is a shard folder: read on
// demand, split and shuffled as the seed says. FIM is not applied (the text is gone); SFT
// data cannot be shards (its masks are not stored).
Dataset shard_dataset(const std::string& dir, const DataOptions& opt, int64_t vocab_size);

}  // namespace dsv3
