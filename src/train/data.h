// Training data: documents read from text / JSONL files, tokenized on all threads, a held-out
// validation split, Fill-in-the-Middle, packing into fixed-length sequences with an eos after
// every document, and a deterministic shuffle. Everything is a function of the files and the
// seed, so a resumed run rebuilds the same sequences and only needs its position.
//
// FIM (DeepSeek-V3 report §4.1, prefix-suffix-middle): with probability fim_rate a training
// document d is cut at two random character positions into prefix, middle, suffix and becomes
//   <｜fim▁begin｜> prefix <｜fim▁hole｜> suffix <｜fim▁end｜> middle <eos>
//
// SFT: chat JSONL lines {"messages": [...]} rendered with the chat template; only the tokens of
// assistant replies (and the eos closing them) are targets of the loss.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/json_file.h"
#include "train/model_train.h"

namespace dsv3 {

// The tokenizer as the data pipeline needs it (tools/dsv3 wires the project's Tokenizer).
struct TextCodec {
  std::function<std::vector<std::vector<int32_t>>(const std::vector<std::string>&)> encode_batch;
  std::function<std::string(const json& messages, bool add_generation_prompt)> render_chat;  // SFT only
  int32_t eos = -1, fim_begin = -1, fim_hole = -1, fim_end = -1;
};

struct DataOptions {
  std::vector<std::string> paths;  // files or folders (every file below, in name order)
  std::string doc_split = "file";  // plain-text files: "file" (one document), "blank" (blank lines
                                   // separate documents) or "line" (one per line)
  int64_t seq_len = 256;           // T
  double fim_rate = 0.1;
  double val_fraction = 0.02;      // of the documents, held out
  uint64_t seed = 1;
  bool sft = false;
};

// Sequences kept elsewhere and read on demand (memory-mapped token shards: token_shards.h).
struct SequenceSource {
  virtual ~SequenceSource() = default;
  virtual int64_t size() const = 0;
  virtual void read(int64_t seq, int32_t* out) const = 0;  // out [T]
};

// Sequences of T tokens; mask (SFT) marks the tokens that are targets.
struct PackedSet {
  int64_t T = 0;
  std::vector<int32_t> tokens;  // [n_seq, T]
  std::vector<uint8_t> mask;    // [n_seq, T], empty: every token is a target
  std::shared_ptr<const SequenceSource> source;  // when set: the sequences, instead of tokens
  int64_t n_seq() const { return source ? source->size() : T > 0 ? int64_t(tokens.size()) / T : 0; }
  TokenRows rows(const std::vector<int64_t>& index) const;  // the chosen sequences as a batch
};

struct Dataset {
  PackedSet train, val;
  int64_t train_docs = 0, val_docs = 0, fim_docs = 0;
  int64_t train_tokens = 0, val_tokens = 0;  // before cutting into sequences
};

Dataset build_dataset(const DataOptions& opt, const TextCodec& codec);

// Raw documents (pretraining) or conversations (SFT) of the files, in a fixed order.
std::vector<std::string> read_documents(const DataOptions& opt);
std::vector<json> read_conversations(const std::vector<std::string>& paths);

// One conversation as token ids and its target mask (1 on assistant replies).
void render_conversation(const json& messages, const TextCodec& codec, std::vector<int32_t>& ids,
                         std::vector<uint8_t>& mask);

// The order in which training sequences are visited: a fresh permutation per epoch.
class SequenceSampler {
 public:
  SequenceSampler(int64_t n_seq, uint64_t seed) : n_(n_seq), seed_(seed) {}
  std::vector<int64_t> next(int64_t count);  // advances the position
  int64_t epoch() const { return epoch_; }
  int64_t cursor() const { return cursor_; }
  void seek(int64_t epoch, int64_t cursor);

 private:
  void shuffle();
  int64_t n_;
  uint64_t seed_;
  int64_t epoch_ = 0, cursor_ = 0;
  std::vector<int64_t> order_;
};

// A deterministic random source (splitmix64) for data decisions.
uint64_t mix64(uint64_t x);
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

}  // namespace dsv3
