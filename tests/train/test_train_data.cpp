// The data pipeline: packing with eos, FIM in prefix-suffix-middle form at the asked rate,
// deterministic shuffling and splitting, and SFT masks that cover assistant replies only.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "test_util.h"
#include "train/codec.h"
#include "train/data.h"

namespace dsv3 {
namespace {

std::string text_of(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t t : ids) s += t < 256 ? std::string(1, char(t)) : cat("<", t, ">");
  return s;
}

std::string write_docs(const test::TempDir& tmp, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += cat("document number ", i, " says hello.\n\n");
  test::write_text(tmp.file("docs.txt"), s);
  return tmp.file("docs.txt");
}

TEST(TrainData, PacksDocumentsWithEosAndHoldsSomeOut) {
  test::TempDir tmp;
  DataOptions o;
  o.paths = {write_docs(tmp, 50)};
  o.doc_split = "blank";
  o.seq_len = 16;
  o.fim_rate = 0;
  o.val_fraction = 0.1;
  const Dataset ds = build_dataset(o, byte_codec());
  EXPECT_EQ(ds.train_docs, 45);
  EXPECT_EQ(ds.val_docs, 5);
  EXPECT_EQ(ds.train.n_seq(), ds.train_tokens / 16);
  const std::string train = text_of(ds.train.tokens), val = text_of(ds.val.tokens);
  EXPECT_NE(train.find("hello.\n<256>document"), std::string::npos);  // eos between documents
  // No held-out document appears in training.
  for (int i = 0; i < 50; ++i) {
    const std::string d = cat("number ", i, " says");
    EXPECT_FALSE(train.find(d) != std::string::npos && val.find(d) != std::string::npos) << d;
  }
  // Same seed, same data; another seed, another order.
  EXPECT_EQ(build_dataset(o, byte_codec()).train.tokens, ds.train.tokens);
  o.seed = 2;
  EXPECT_NE(build_dataset(o, byte_codec()).train.tokens, ds.train.tokens);
}

TEST(TrainData, FimRearrangesPrefixSuffixMiddle) {
  test::TempDir tmp;
  DataOptions o;
  o.paths = {write_docs(tmp, 400)};
  o.doc_split = "blank";
  o.seq_len = 8;
  o.val_fraction = 0;
  o.fim_rate = 0.1;
  const Dataset ds = build_dataset(o, byte_codec());
  EXPECT_GT(ds.fim_docs, 20);  // ~10% of 400
  EXPECT_LT(ds.fim_docs, 70);
  o.fim_rate = 1.0;
  std::string all = text_of(build_dataset(o, byte_codec()).train.tokens);
  // Every document: <begin> prefix <hole> suffix <end> middle <eos>, and prefix+middle+suffix is it.
  size_t pos = all.find("<257>"), checked = 0;
  while (pos != std::string::npos) {
    const size_t hole = all.find("<258>", pos), end = all.find("<259>", pos), eos = all.find("<256>", pos);
    if (eos == std::string::npos) break;  // cut by the last sequence
    ASSERT_LT(hole, end);
    ASSERT_LT(end, eos);
    const std::string prefix = all.substr(pos + 5, hole - pos - 5), suffix = all.substr(hole + 5, end - hole - 5),
                      middle = all.substr(end + 5, eos - end - 5);
    const std::string doc = prefix + middle + suffix;
    EXPECT_EQ(doc.rfind("document number ", 0), 0u) << doc;
    EXPECT_EQ(doc.substr(doc.size() - 13), " says hello.\n") << doc;
    pos = all.find("<257>", eos);
    ++checked;
  }
  EXPECT_GT(checked, 300u);
}

TEST(TrainData, SamplerVisitsEverySequenceOncePerEpochAndSeeks) {
  SequenceSampler s(10, 3);
  std::vector<int64_t> first = s.next(10), second = s.next(10);
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 10u);
  EXPECT_EQ(std::set<int64_t>(second.begin(), second.end()).size(), 10u);
  EXPECT_NE(first, second);  // a new permutation each epoch
  SequenceSampler t(10, 3);
  t.seek(1, 4);
  EXPECT_EQ(t.next(3), std::vector<int64_t>(second.begin() + 4, second.begin() + 7));
}

TEST(TrainData, SftMasksAssistantRepliesOnly) {
  test::TempDir tmp;
  test::write_text(tmp.file("chat.jsonl"),
                   R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"},)"
                   R"( {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye?"},)"
                   R"( {"role": "assistant", "content": "Bye!"}]})"
                   "\n");
  const auto convs = read_conversations({tmp.file("chat.jsonl")});
  ASSERT_EQ(convs.size(), 1u);
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
  render_conversation(convs[0], byte_codec(), ids, mask);
  ASSERT_EQ(ids.size(), mask.size());
  std::string targets, context;
  for (size_t i = 0; i < ids.size(); ++i) (mask[i] ? targets : context) += char(ids[i]);
  EXPECT_EQ(targets, "Hello!\x04" "Bye!\x04");
  EXPECT_EQ(context, "\x02" "Be brief.\nUser: Hi?\nAssistant: \nUser: Bye?\nAssistant: ");
}

TEST(TrainData, BadInputIsNamed) {
  test::TempDir tmp;
  test::write_text(tmp.file("bad.jsonl"), "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
  DataOptions o;
  o.paths = {tmp.file("bad.jsonl")};
  try {
    build_dataset(o, byte_codec());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  o.paths = {tmp.file("missing")};
  EXPECT_THROW(build_dataset(o, byte_codec()), Error);
}

}  // namespace
}  // namespace dsv3
