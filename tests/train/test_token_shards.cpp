// Token shards (src/train/token_shards.h): written and read back exactly, across shard
// boundaries; damage and interrupted writes are one-line errors; the train/held-out windows
// partition the corpus as the seed says; `dsv3 data` keeps `dsv3 train`'s documents, and a run
// on shards resumes bit-identically.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <fstream>
#include <sstream>
#include <cstring>

#include "core/error.h"
#include "core/hash.h"
#include "train/codec.h"
#include "train/token_shards.h"
#include "train_test_util.h"

namespace fs = std::filesystem;

namespace dsv3 {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Documents of 1..9 tokens with ids encoding (document, position), so every token is checkable.
std::vector<std::vector<int32_t>> some_docs(int n) {
  std::vector<std::vector<int32_t>> d(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < 1 + i % 9; ++j) d[size_t(i)].push_back((i * 10 + j) % 997);
  return d;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string write_shards(const test::TempDir& tmp, const std::vector<std::vector<int32_t>>& docs, int64_t shard_tokens) {
  const std::string dir = tmp.file("shards");
  TokenShardWriter w(dir, 999, 1000, shard_tokens);
  for (const auto& d : docs) w.add(d);
  w.finish();
  return dir;
}

TEST(TokenShards, RoundTripAcrossShardBoundaries) {
  test::TempDir tmp;
  const auto docs = some_docs(50);
  const std::string dir = write_shards(tmp, docs, 40);
  std::vector<int32_t> stream;
  for (const auto& d : docs) {
    stream.insert(stream.end(), d.begin(), d.end());
    stream.push_back(999);
  }
  const TokenShards s(dir);
  EXPECT_TRUE(TokenShards::is_shard_dir(dir));
  EXPECT_EQ(s.documents(), 50);
  ASSERT_EQ(s.tokens(), int64_t(stream.size()));
  EXPECT_GT(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 3);  // several shards
  std::vector<int32_t> all(stream.size());
  s.read(0, s.tokens(), all.data());
  EXPECT_EQ(all, stream);
  for (int64_t off : {0, 7, 39, 40, 41, 100}) {  // windows straddling shard ends
    std::vector<int32_t> w(60);
    s.read(off, 60, w.data());
    EXPECT_TRUE(std::equal(w.begin(), w.end(), stream.begin() + off)) << off;
  }
  s.verify();
  EXPECT_NE(error_of([&] { s.read(s.tokens() - 1, 2, all.data()); }).find("past"), std::string::npos);
}

// The header's checksum is plain 64-bit FNV-1a (what another tool writing shards computes), and
// a folder of version 1 — checksums from dsv3's old, mistyped offset basis — still reads.
TEST(TokenShards, ChecksumIsStandardFnv1aAndVersion1StillReads) {
  EXPECT_EQ(fnv1a("a", 1), 0xaf63dc4c8601ec8cull);  // the published test vector
  test::TempDir tmp;
  const std::string dir = write_shards(tmp, some_docs(12), 1000);  // one shard
  const std::string shard = dir + "/shard-00000.tok";
  const TokenShards v2(dir);
  v2.verify();
  std::string bytes = test::read_text(shard);
  uint64_t tokens = 0, checksum = 0;
  std::memcpy(&tokens, bytes.data() + 24, 8);
  std::memcpy(&checksum, bytes.data() + 32, 8);
  const size_t ends = 64 + (tokens * 4 + 7) / 8 * 8;
  EXPECT_EQ(checksum, fnv1a(bytes.data() + ends, bytes.size() - ends, fnv1a(bytes.data() + 64, tokens * 4)));
  // Rewrite as version 1: header version and checksum, index version and checksum.
  const uint64_t old = fnv1a(bytes.data() + ends, bytes.size() - ends,
                             fnv1a(bytes.data() + 64, tokens * 4, kFnvOffsetShardsV1));
  const uint32_t one = 1;
  std::memcpy(bytes.data() + 8, &one, 4);
  std::memcpy(bytes.data() + 32, &old, 8);
  write_bytes(shard, bytes);
  std::string index = test::read_text(dir + "/index.json");
  auto replace = [&](const std::string& a, const std::string& b) {
    const size_t at = index.find(a);
    ASSERT_NE(at, std::string::npos) << a;
    index.replace(at, a.size(), b);
  };
  std::ostringstream hex_new, hex_old;
  hex_new << std::hex << checksum;
  hex_old << std::hex << old;
  replace(hex_new.str(), hex_old.str());
  replace("\"version\": 2", "\"version\": 1");
  write_bytes(dir + "/index.json", index);
  const TokenShards v1(dir);
  v1.verify();
  EXPECT_EQ(v1.documents(), 12);
}

TEST(TokenShards, DamageIsAnErrorNamingTheFile) {
  test::TempDir tmp;
  const std::string dir = write_shards(tmp, some_docs(30), 50);
  const std::string shard = dir + "/shard-00001.tok";
  {  // one flipped token byte: the structure holds, the checksum does not
    FILE* f = std::fopen(shard.c_str(), "r+b");
    std::fseek(f, 64 + 4, SEEK_SET);
    std::fputc(0x7f, f);
    std::fclose(f);
  }
  const TokenShards s(dir);
  EXPECT_EQ(error_of([&] { s.verify(); }), shard + ": checksum mismatch (damaged)");
  fs::resize_file(shard, fs::file_size(shard) - 8);
  EXPECT_NE(error_of([&] { TokenShards t(dir); }).find(shard + ": "), std::string::npos);
  EXPECT_NE(error_of([&] { TokenShards t(dir); }).find("truncated or damaged"), std::string::npos);
  fs::remove(dir + "/index.json");
  EXPECT_NE(error_of([&] { TokenShards t(dir); }).find("no index.json"), std::string::npos);
  EXPECT_FALSE(TokenShards::is_shard_dir(dir));
}

TEST(TokenShards, AnInterruptedWriteLeavesNoIndexAndNoPartialShard) {
  test::TempDir tmp;
  const std::string dir = tmp.file("shards");
  {
    TokenShardWriter w(dir, 999, 1000, 1000);
    for (const auto& d : some_docs(10)) w.add(d);
    EXPECT_NE(error_of([&] { w.add({5, 1000}); }).find("outside the vocabulary"), std::string::npos);
  }  // abandoned without finish()
  EXPECT_FALSE(fs::exists(dir + "/index.json"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 0);
  EXPECT_NE(error_of([&] { TokenShards t(dir); }).find("interrupted"), std::string::npos);
}

TEST(TokenShards, HeldOutWindowsPartitionTheCorpusAsTheSeedSays) {
  test::TempDir tmp;
  auto s = std::make_shared<const TokenShards>(write_shards(tmp, some_docs(200), 300));
  const int64_t T = 8, windows = s->tokens() / T;
  auto starts = [&](uint64_t seed, bool val) {
    const auto src = shard_sequences(s, T, 0.1, seed, val);
    std::vector<int64_t> out;
    std::vector<int32_t> seq(static_cast<size_t>(T)), ref(static_cast<size_t>(T));
    for (int64_t i = 0; i < src->size(); ++i) {
      src->read(i, seq.data());
      // Find which window it is: the windows' contents are distinct enough to locate by scan.
      for (int64_t w = 0; w < windows; ++w) {
        s->read(w * T, T, ref.data());
        if (ref == seq) {
          out.push_back(w);
          break;
        }
      }
    }
    return out;
  };
  const auto train = starts(7, false), val = starts(7, true);
  EXPECT_EQ(int64_t(train.size() + val.size()), windows);
  std::set<int64_t> all(train.begin(), train.end());
  all.insert(val.begin(), val.end());
  EXPECT_EQ(int64_t(all.size()), windows);  // every window exactly once
  EXPECT_NEAR(double(val.size()) / double(windows), 0.1, 0.02);
  for (size_t i = 1; i < val.size(); ++i) EXPECT_EQ(val[i] - val[i - 1], 10);  // every 10th window
  EXPECT_EQ(starts(7, true), val);  // deterministic
  bool moved = false;
  for (uint64_t seed = 8; seed < 14 && !moved; ++seed) moved = starts(seed, true) != val;
  EXPECT_TRUE(moved);
  EXPECT_EQ(shard_sequences(s, T, 0.0, 7, true)->size(), 0);
}

std::string train_args(const std::string& data, const std::string& out, int steps) {
  return cat("train --config ", test::tiny_config(), " --data ", data, " --tokenizer bytes --seq-len 32",
             " --micro-batch 4 --batch-tokens 256 --lr 3e-3 --warmup-steps 2 --eval-every 2 --eval-sequences 4",
             " --log-every 0 --save-every 2 --steps ", steps, " --out ", out);
}

TEST(TokenShards, DataCommandKeepsTrainDocumentsAndTrainingOnShardsResumes) {
  test::TempDir tmp;
  const std::string corpus = test::write_corpus(tmp, 60);
  auto r = test::run_dsv3(cat("data --tokenizer bytes --input ", corpus, " --doc-split blank --shard-tokens 2000 --out ",
                              tmp.file("sh")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The same documents as dsv3 train reads from the text, each followed by eos.
  DataOptions o;
  o.paths = {corpus};
  o.doc_split = "blank";
  const auto docs = read_documents(o);
  const auto ids = byte_codec().encode_batch(docs);
  std::vector<int32_t> want;
  for (const auto& d : ids) {
    want.insert(want.end(), d.begin(), d.end());
    want.push_back(byte_codec().eos);
  }
  const TokenShards s(tmp.file("sh"));
  ASSERT_EQ(s.documents(), int64_t(docs.size()));
  std::vector<int32_t> got(size_t(s.tokens()));
  s.read(0, s.tokens(), got.data());
  EXPECT_EQ(got, want);
  r = test::run_dsv3(cat("data --verify ", tmp.file("sh")));
  EXPECT_EQ(r.exit_code, 0) << r.err;

  r = test::run_dsv3(train_args(tmp.file("sh"), tmp.file("a"), 6));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  setenv("DSV3_TRAIN_DIE_IN_SAVE", "4", 1);  // killed while saving step 4's checkpoint
  r = test::run_dsv3(train_args(tmp.file("sh"), tmp.file("b"), 6));
  unsetenv("DSV3_TRAIN_DIE_IN_SAVE");
  ASSERT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  r = test::run_dsv3(train_args(tmp.file("sh"), tmp.file("b"), 6));  // resumes at step 2
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_text(tmp.file("a/model.safetensors")), test::read_text(tmp.file("b/model.safetensors")));
}

}  // namespace
}  // namespace dsv3
