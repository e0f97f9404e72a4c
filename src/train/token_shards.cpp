#include "train/token_shards.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/hash.h"
#include "io/json_file.h"
#include "io/safetensors_writer.h"

namespace fs = std::filesystem;

namespace dsv3 {

namespace {

constexpr char kMagic[8] = {'D', 'S', 'V', '3', 'T', 'O', 'K', '\0'};
// Version 2: checksums are FNV-1a with its standard offset basis; version 1 (read, not
// written) used core/hash.h's mistyped one.
constexpr uint32_t kVersion = 2;
bool readable_version(int64_t v) { return v == 1 || v == 2; }
uint64_t checksum_basis(int64_t version) { return version == 1 ? kFnvOffsetShardsV1 : kFnvOffset; }
constexpr size_t kHeaderBytes = 64;

// Byte offset of doc_end: after the tokens, padded to 8 so the u64 offsets are aligned.
uint64_t doc_end_offset(uint64_t tokens) { return kHeaderBytes + (tokens * 4 + 7) / 8 * 8; }
constexpr const char* kFormat = "dsv3-token-shards";

struct Header {
  char magic[8];
  uint32_t version, token_bytes;
  uint64_t documents, tokens, checksum;
  uint8_t reserved[24];
};
static_assert(sizeof(Header) == kHeaderBytes);

void write_all(FILE* f, const void* p, size_t n, const std::string& path) {
  if (n && std::fwrite(p, 1, n, f) != n) fail(path, ": write failed (disk full?)");
}

std::string shard_name(size_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "shard-%05zu.tok", i);
  return b;
}

}  // namespace

TokenShardWriter::TokenShardWriter(const std::string& dir, int32_t eos, int64_t vocab_size, int64_t shard_tokens)
    : dir_(dir), eos_(eos), vocab_(vocab_size), shard_tokens_(shard_tokens) {
  if (eos < 0 || eos >= vocab_size) fail("token shards: eos id ", eos, " is outside the vocabulary of ", vocab_size);
  if (shard_tokens < 1) fail("token shards: shard size must be at least one token");
  fs::create_directories(dir);
  if (fs::exists(fs::path(dir) / "index.json")) fail(dir, ": already holds token shards (index.json); choose a new folder");
}

TokenShardWriter::~TokenShardWriter() {
  if (f_) {  // abandoned (an error): leave no half-written shard behind
    std::fclose(f_);
    std::error_code ec;
    fs::remove(tmp_path_, ec);
  }
}

void TokenShardWriter::open_shard() {
  tmp_path_ = (fs::path(dir_) / (shard_name(shards_.size()) + ".tmp")).string();
  f_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!f_) fail(tmp_path_, ": cannot create");
  const Header blank{};
  write_all(f_, &blank, sizeof blank, tmp_path_);  // the real header once the shard is complete
  doc_end_.clear();
  tokens_ = 0;
  hash_ = kFnvOffset;
}

void TokenShardWriter::add(const std::vector<int32_t>& ids) {
  if (finished_) fail("token shards: add after finish");
  if (!f_) open_shard();
  std::vector<uint32_t> buf(ids.size() + 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_) fail("token shards: token id ", ids[i], " is outside the vocabulary of ", vocab_);
    buf[i] = uint32_t(ids[i]);
  }
  buf.back() = uint32_t(eos_);
  write_all(f_, buf.data(), buf.size() * 4, tmp_path_);
  hash_ = fnv1a(buf.data(), buf.size() * 4, hash_);
  tokens_ += buf.size();
  doc_end_.push_back(tokens_);
  ++docs_total_;
  tokens_total_ += int64_t(buf.size());
  if (int64_t(tokens_) >= shard_tokens_) close_shard();
}

void TokenShardWriter::close_shard() {
  const uint32_t pad = 0;
  if (tokens_ % 2) write_all(f_, &pad, 4, tmp_path_);
  write_all(f_, doc_end_.data(), doc_end_.size() * 8, tmp_path_);
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kVersion;
  h.token_bytes = 4;
  h.documents = doc_end_.size();
  h.tokens = tokens_;
  h.checksum = fnv1a(doc_end_.data(), doc_end_.size() * 8, hash_);
  if (std::fseek(f_, 0, SEEK_SET) != 0) fail(tmp_path_, ": seek failed");
  write_all(f_, &h, sizeof h, tmp_path_);
  if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0 || std::fclose(f_) != 0) fail(tmp_path_, ": write failed");
  f_ = nullptr;
  const std::string name = shard_name(shards_.size());
  fs::rename(tmp_path_, fs::path(dir_) / name);
  shards_.push_back({name, int64_t(h.documents), int64_t(h.tokens), h.checksum});
}

void TokenShardWriter::finish() {
  if (f_) close_shard();
  finished_ = true;
  json idx = {{"format", kFormat}, {"version", kVersion}, {"eos", eos_}, {"vocab_size", vocab_},
              {"documents", docs_total_}, {"tokens", tokens_total_}, {"shards", json::array()}};
  for (const Done& d : shards_)
    idx["shards"].push_back({{"file", d.file}, {"documents", d.docs}, {"tokens", d.tokens},
                             {"checksum", cat(std::hex, d.checksum)}});
  write_file_atomic((fs::path(dir_) / "index.json").string(), idx.dump(1) + "\n");
}

bool TokenShards::is_shard_dir(const std::string& path) {
  const fs::path idx = fs::path(path) / "index.json";
  if (!fs::is_regular_file(idx)) return false;
  const json j = read_json_file(idx.string());
  return j.is_object() && j.value("format", "") == kFormat;
}

TokenShards::TokenShards(const std::string& dir) : dir_(dir) {
  const std::string where = (fs::path(dir) / "index.json").string();
  if (!fs::exists(where)) fail(dir, ": no index.json (not a token-shard folder, or its writing was interrupted)");
  const json idx = read_json_file(where);
  if (!idx.is_object() || idx.value("format", "") != kFormat) fail(where, ": not a ", kFormat, " index");
  const int64_t version = idx.value("version", int64_t(0));
  if (!readable_version(version)) fail(where, ": version ", version, ", expected 1 or 2");
  basis_ = checksum_basis(version);
  try {
    eos_ = idx.at("eos").get<int32_t>();
    vocab_ = idx.at("vocab_size").get<int64_t>();
    for (const json& s : idx.at("shards")) {
      const std::string path = (fs::path(dir) / s.at("file").get<std::string>()).string();
      Shard sh;
      sh.file = std::make_unique<MappedFile>(path);
      Header h;
      if (sh.file->size() < kHeaderBytes) fail(path, ": truncated (", sh.file->size(), " bytes)");
      std::memcpy(&h, sh.file->data(), sizeof h);
      if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) fail(path, ": not a dsv3 token shard (bad magic)");
      if (int64_t(h.version) != version || h.token_bytes != 4)
        fail(path, ": version ", h.version, " with ", h.token_bytes, "-byte tokens; expected ", version, ", 4");
      const uint64_t want = doc_end_offset(h.tokens) + h.documents * 8;
      if (sh.file->size() != want) fail(path, ": ", sh.file->size(), " bytes, header implies ", want, " (truncated or damaged)");
      if (int64_t(h.documents) != s.at("documents").get<int64_t>() || int64_t(h.tokens) != s.at("tokens").get<int64_t>() ||
          cat(std::hex, h.checksum) != s.at("checksum").get<std::string>())
        fail(path, ": header disagrees with index.json (documents, tokens or checksum)");
      sh.tokens = reinterpret_cast<const uint32_t*>(sh.file->data() + kHeaderBytes);
      sh.doc_end = reinterpret_cast<const uint64_t*>(sh.file->data() + doc_end_offset(h.tokens));
      uint64_t prev = 0;
      for (uint64_t d = 0; d < h.documents; ++d) {
        if (sh.doc_end[d] <= prev || sh.doc_end[d] > h.tokens) fail(path, ": document ", d, " has a bad end offset");
        prev = sh.doc_end[d];
      }
      if (prev != h.tokens) fail(path, ": documents end at ", prev, " of ", h.tokens, " tokens");
      sh.n_tokens = int64_t(h.tokens);
      sh.n_docs = int64_t(h.documents);
      sh.begin = total_;
      sh.checksum = h.checksum;
      total_ += sh.n_tokens;
      docs_ += sh.n_docs;
      shards_.push_back(std::move(sh));
    }
    if (total_ != idx.at("tokens").get<int64_t>() || docs_ != idx.at("documents").get<int64_t>())
      fail(where, ": totals disagree with the shards");
  } catch (const json::exception& e) {
    fail(where, ": malformed index (", e.what(), ")");
  }
}

void TokenShards::verify() const {
  for (size_t i = 0; i < shards_.size(); ++i) {
    const Shard& s = shards_[i];
    uint64_t h = fnv1a(s.tokens, size_t(s.n_tokens) * 4, basis_);
    h = fnv1a(s.doc_end, size_t(s.n_docs) * 8, h);
    if (h != s.checksum) fail((fs::path(dir_) / shard_name(i)).string(), ": checksum mismatch (damaged)");
    for (int64_t t = 0; t < s.n_tokens; ++t)
      if (int64_t(s.tokens[t]) >= vocab_) fail(shard_name(i), ": token ", t, " = ", s.tokens[t], " outside the vocabulary");
  }
}

void TokenShards::read(int64_t offset, int64_t n, int32_t* out) const {
  if (offset < 0 || n < 0 || offset + n > total_) fail("token shards: read [", offset, ", ", offset + n, ") past ", total_);
  auto it = std::upper_bound(shards_.begin(), shards_.end(), offset, [](int64_t o, const Shard& s) { return o < s.begin; });
  for (size_t i = size_t(it - shards_.begin()) - 1; n > 0; ++i) {
    const Shard& s = shards_[i];
    const int64_t from = offset - s.begin, take = std::min(n, s.n_tokens - from);
    std::memcpy(out, s.tokens + from, size_t(take) * 4);
    out += take, offset += take, n -= take;
  }
}

namespace {

class ShardSequences final : public SequenceSource {
 public:
  ShardSequences(std::shared_ptr<const TokenShards> s, int64_t T, double val_fraction, uint64_t seed, bool validation)
      : shards_(std::move(s)), T_(T), windows_(shards_->tokens() / T), validation_(validation) {
    if (val_fraction > 0) {
      M_ = std::max<int64_t>(2, int64_t(std::llround(1.0 / val_fraction)));
      k_ = int64_t(mix64(seed ^ 0x7a11da7a) % uint64_t(M_));
    }
  }
  // Windows w with w mod M == k are held out.
  int64_t size() const override {
    if (M_ == 0) return validation_ ? 0 : windows_;
    const int64_t held = windows_ / M_ + (windows_ % M_ > k_ ? 1 : 0);
    return validation_ ? held : windows_ - held;
  }
  void read(int64_t i, int32_t* out) const override { shards_->read(window(i) * T_, T_, out); }

 private:
  int64_t window(int64_t i) const {
    if (M_ == 0) return i;
    if (validation_) return i * M_ + k_;
    const int64_t per = M_ - 1, block = i / per, j = i % per;  // j-th kept window of block
    return block * M_ + (j < k_ ? j : j + 1);
  }
  std::shared_ptr<const TokenShards> shards_;
  int64_t T_, windows_, M_ = 0, k_ = 0;
  bool validation_;
};

}  // namespace

std::shared_ptr<const SequenceSource> shard_sequences(std::shared_ptr<const TokenShards> shards, int64_t T,
                                                      double val_fraction, uint64_t seed, bool validation) {
  return std::make_shared<ShardSequences>(std::move(shards), T, val_fraction, seed, validation);
}

Dataset shard_dataset(const std::string& dir, const DataOptions& opt, int64_t vocab_size) {
  if (opt.sft) fail(dir, ": SFT data cannot be token shards (give the chat JSONL)");
  auto shards = std::make_shared<const TokenShards>(dir);
  if (shards->vocab_size() > vocab_size)
    fail(dir, ": shards use ", shards->vocab_size(), " token ids but the model's vocab_size is ", vocab_size);
  Dataset ds;
  ds.train.T = ds.val.T = opt.seq_len;
  ds.train.source = shard_sequences(shards, opt.seq_len, opt.val_fraction, opt.seed, false);
  ds.val.source = shard_sequences(shards, opt.seq_len, opt.val_fraction, opt.seed, true);
  ds.train_docs = shards->documents();
  ds.train_tokens = ds.train.n_seq() * opt.seq_len;
  ds.val_tokens = ds.val.n_seq() * opt.seq_len;
  return ds;
}

}  // namespace dsv3
