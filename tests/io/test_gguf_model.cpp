// GGUF <-> model: the fixtures written as llama.cpp deepseek2 GGUF files by dsv3's exporter and
// loaded back give the same logits (F32 and BF16 exactly, Q8_0 within its rounding), single
// files and split sets, combined or split kv_b; the tokenizer stored in the metadata encodes
// and decodes as tokenizer.json does; damaged sets give one line naming the file and tensor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <tuple>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/gguf.h"
#include "io/json_file.h"
#include "kernels/linear.h"
#include "model/gguf_bind.h"
#include "model/gguf_export.h"
#include "model/model.h"
#include "test_util.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace dsv3 {
namespace {

const std::vector<int32_t> kTokens = {0, 17, 300, 5, 99, 511, 42, 42, 7, 250, 128, 64};

struct Eval {
  std::vector<float> logits, mtp;  // [n, vocab], MTP depth 0's final-normed states [n-1, hidden]
};

Eval evaluate(const Model& m) {
  const int64_t n = int64_t(kTokens.size()), H = m.config().hidden_size, V = m.config().vocab_size;
  SequenceCache cache = m.new_cache();
  SequenceCache* caches[] = {&cache};
  TokenBatch b;
  for (int64_t i = 0; i < n; ++i) b.add(kTokens[size_t(i)], int32_t(i), 0);
  Eval e;
  std::vector<float> h(size_t(n * H));
  m.forward(b, caches, h.data());
  e.logits.resize(size_t(n * V));
  m.logits(e.logits.data(), h.data(), n);
  if (m.mtp_depth() > 0) {
    SequenceCache mc = m.new_mtp_cache();
    SequenceCache* mcs[] = {&mc};
    TokenBatch nb;
    for (int64_t i = 0; i + 1 < n; ++i) nb.add(kTokens[size_t(i + 1)], int32_t(i), 0);
    e.mtp.resize(size_t((n - 1) * H));
    m.mtp_forward(0, h.data(), nb, mcs, e.mtp.data());
  }
  return e;
}

// Mean |a - b| over mean |b|, and the fraction of rows (positions) with the same argmax.
// The same logits one token per forward call (decode steps: the absorbed attention).
Eval evaluate_steps(const Model& m) {
  const int64_t n = int64_t(kTokens.size()), H = m.config().hidden_size, V = m.config().vocab_size;
  SequenceCache cache = m.new_cache();
  SequenceCache* caches[] = {&cache};
  Eval e;
  e.logits.resize(size_t(n * V));
  std::vector<float> h(static_cast<size_t>(H));
  for (int64_t i = 0; i < n; ++i) {
    TokenBatch b;
    b.add(kTokens[size_t(i)], int32_t(i), 0);
    m.forward(b, caches, h.data());
    m.logits(e.logits.data() + i * V, h.data(), 1);
  }
  return e;
}

std::pair<double, double> compare(const std::vector<float>& a, const std::vector<float>& b, size_t V) {
  double diff = 0, mag = 0;
  size_t agree = 0;
  const size_t T = b.size() / V;
  for (size_t t = 0; t < T; ++t) {
    for (size_t i = 0; i < V; ++i) diff += std::fabs(a[t * V + i] - b[t * V + i]), mag += std::fabs(b[t * V + i]);
    agree += std::max_element(a.begin() + long(t * V), a.begin() + long(t * V + V)) - a.begin() ==
             std::max_element(b.begin() + long(t * V), b.begin() + long(t * V + V)) - b.begin();
  }
  return {diff / mag, double(agree) / double(T)};
}

// Every value of w (slab `slab` of the file's tensor `name`, which must be of `type`) is exactly
// llama.cpp's dequantization of the stored blocks, read through the row widening every kernel
// family provides.
void expect_holds_file_values(const GgufFile& f, const Weight& w, const std::string& name, int64_t slab, GgmlType type) {
  const GgufTensor* t = f.find(name);
  ASSERT_TRUE(t) << name;
  ASSERT_EQ(t->type, uint32_t(type)) << name;
  const std::vector<float> deq = gguf_to_f32(*t);
  const size_t off = size_t(slab * w.rows * w.cols);
  std::vector<float> row(size_t(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    weight_row_f32(row.data(), w, r);
    for (int64_t c = 0; c < w.cols; ++c)
      ASSERT_EQ(row[size_t(c)], deq[off + size_t(r * w.cols + c)]) << name << " " << r << "," << c;
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> export_fixture(const std::string& model, const std::string& out, GgmlType type,
                                        int64_t split = 0) {
  const auto m = Model::load(test::model_path(model));
  GgufExportOptions o;
  o.type = type;
  o.mtp = true;
  o.split_tensors = split;
  return write_gguf_model(*m, out, o, nullptr);
}

class GgufModelRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufModelRoundTrip, F32AndBf16GiveTheSameLogits) {
  const auto ref = Model::load(test::model_path(GetParam()));
  const Eval want = evaluate(*ref);
  const test::TempDir dir;
  for (GgmlType t : {GgmlType::F32, GgmlType::BF16}) {  // the fixtures' matrices are BF16: both exact
    const std::string path = dir.file(ggml_type_name(uint32_t(t)) + ".gguf");
    export_fixture(GetParam(), path, t);
    const auto m = Model::load(path);
    EXPECT_EQ(m->config().num_hidden_layers, ref->config().num_hidden_layers);
    EXPECT_EQ(m->config().topk_method, ref->config().topk_method);
    EXPECT_EQ(m->config().scoring_func, ref->config().scoring_func);
    EXPECT_EQ(m->config().q_lora_rank, ref->config().q_lora_rank);
    EXPECT_EQ(m->unused_tensors(), std::vector<std::string>{});
    const Eval got = evaluate(*m);
    EXPECT_EQ(got.logits, want.logits) << ggml_type_name(uint32_t(t));
    EXPECT_EQ(got.mtp, want.mtp) << ggml_type_name(uint32_t(t));
  }
}

// Q8_0 stays 8-bit: every matrix the file holds in Q8_0 is an INT8 weight (one scale per 32
// values of a row) whose values are exactly llama.cpp's dequantization of the blocks.
TEST_P(GgufModelRoundTrip, Q8_0IsKeptExactly) {
  const auto ref = Model::load(test::model_path(GetParam()));
  const Eval want = evaluate(*ref);
  const test::TempDir dir;
  export_fixture(GetParam(), dir.file("q8.gguf"), GgmlType::Q8_0);
  const auto m = Model::load(dir.file("q8.gguf"));
  const GgufFile f(dir.file("q8.gguf"));
  const auto expect_same = [&](const Weight& w, const std::string& name, int64_t slab) {
    ASSERT_EQ(w.dtype, DType::I8) << name;
    ASSERT_EQ(w.block_rows, 1) << name;
    expect_holds_file_values(f, w, name, slab, GgmlType::Q8_0);
  };
  expect_same(m->weights().layers[1].self_attn.o_proj, "blk.1.attn_output.weight", 0);
  expect_same(m->weights().layers[1].moe.experts[2].up_proj, "blk.1.ffn_up_exps.weight", 2);
  const Weight& up = m->weights().layers[1].moe.experts[2].up_proj;  // a row slice keeps its rows' scales
  std::vector<float> a(size_t(up.cols)), b(size_t(up.cols));
  weight_row_f32(a.data(), up.rows_slice(3, 5), 1);
  weight_row_f32(b.data(), up, 4);
  EXPECT_EQ(a, b);
  // attn_k_b / attn_v_b in Q8_0 are also kept as they are, for the decode attention (the
  // fixtures' attn_k_b rows of dn = 16 values cannot be Q8_0: the exporter's fallback is kept
  // only in kv_b_proj; attn_v_b's rows of r = 32 are).
  const MlaWeights& attn = m->weights().layers[1].self_attn;
  for (const auto& [w, name] : {std::pair{&attn.w_uk, "blk.1.attn_k_b.weight"}, {&attn.w_uv, "blk.1.attn_v_b.weight"}}) {
    if (f.find(name)->type == uint32_t(GgmlType::Q8_0))
      expect_same(*w, name, 0);
    else
      EXPECT_TRUE(w->empty()) << name;
  }
  EXPECT_FALSE(attn.w_uv.empty());
  // Q8_0 moves each weight by at most half a step of max|w|/127 of its 32 values, and the INT8
  // kernels round the activations likewise; the tiny random fixtures route on margins far
  // smaller than that (v3-tiny's smallest is 5e-4), so some positions change experts: measured,
  // the logits move by 2.7% (v3-tiny) and 3.0% (v2-lite-tiny) on average. The weights themselves
  // are checked exactly above.
  const Eval got = evaluate(*m);
  const auto [rel, agree] = compare(got.logits, want.logits, size_t(m->config().vocab_size));
  EXPECT_GT(rel, 0.0);
  EXPECT_LT(rel, 0.15);
  EXPECT_GE(agree, 0.5);
  std::printf("Q8_0 %s: mean |diff| / mean |logit| %.4f, argmax agreement %.2f\n", GetParam().c_str(), rel, agree);
  // Decode steps (one row each: the absorbed attention, reading w_uv with int8-rounded
  // activations) against the whole batch (the decompressed attention, reading kv_b_proj's BF16
  // copy of the same blocks with float activations); with kv_b_proj in both, the two agree
  // bit for bit. The rounding moves the tiny fixtures' routing as above: measured 8.1%
  // (v3-tiny) and 2.2% (v2-lite-tiny).
  const Eval steps = evaluate_steps(*m);
  const auto [step_rel, step_agree] = compare(steps.logits, got.logits, size_t(m->config().vocab_size));
  std::printf("Q8_0 %s decode steps vs batch: %.4f, argmax agreement %.2f\n", GetParam().c_str(), step_rel, step_agree);
  EXPECT_GT(step_rel, 0.0);  // w_uv was read
  EXPECT_LT(step_rel, 0.15);
}

// Q4_0 stays 4-bit: every matrix the file holds in Q4_0 is an INT4 weight whose values are
// exactly llama.cpp's dequantization of the blocks (routed experts: one slab each).
TEST_P(GgufModelRoundTrip, Q4_0IsRepackedExactly) {
  const test::TempDir dir;
  const std::string path = dir.file("q4.gguf");
  export_fixture(GetParam(), path, GgmlType::Q4_0);
  const auto m = Model::load(path);
  const GgufFile f(path);
  const auto expect_same = [&](const Weight& w, const std::string& name, int64_t slab) {
    ASSERT_TRUE(w.int4) << name;
    expect_holds_file_values(f, w, name, slab, GgmlType::Q4_0);
  };
  const LayerWeights& moe = m->weights().layers[1];
  expect_same(m->weights().embed_tokens, "token_embd.weight", 0);
  expect_same(moe.self_attn.o_proj, "blk.1.attn_output.weight", 0);
  expect_same(moe.moe.experts[3].down_proj, "blk.1.ffn_down_exps.weight", 3);
  expect_same(moe.moe.experts[5].gate_proj, "blk.1.ffn_gate_exps.weight", 5);
  const Eval got = evaluate(*m), want = evaluate(*Model::load(test::model_path(GetParam())));
  const auto [rel, agree] = compare(got.logits, want.logits, size_t(m->config().vocab_size));
  // 4 bits on random weights (and int8 activations in the INT4 kernels): measured 37% / 29%.
  EXPECT_GT(rel, 0.0);
  EXPECT_LT(rel, 0.6);
  std::printf("Q4_0 %s: mean |diff| / mean |logit| %.4f, argmax agreement %.2f\n", GetParam().c_str(), rel, agree);
}

// Q6_K and Q4_K stay as their blocks: every matrix whose rows are whole 256-value super-blocks
// (v3-tiny-fp8 has hidden size 256) is a K-quant weight read in place with exactly llama.cpp's
// values; narrower rows take the exporter's fallback (Q8_0, Q4_0).
TEST(GgufModel, KQuantsAreKeptAsTheirBlocks) {
  const auto want = evaluate(*Model::load(test::model_path("v3-tiny-fp8")));
  for (const auto& [type, kind, fallback, max_rel] : {std::tuple{GgmlType::Q6_K, KQuant::Q6_K, GgmlType::Q8_0, 0.3},
                                                       {GgmlType::Q4_K, KQuant::Q4_K, GgmlType::Q4_0, 0.6}}) {
    const std::string tname = ggml_type_name(uint32_t(type));
    const test::TempDir dir;
    const std::string path = dir.file("k.gguf");
    export_fixture("v3-tiny-fp8", path, type);
    const auto m = Model::load(path);
    const GgufFile f(path);
    const auto expect_same = [&](const Weight& w, const std::string& name, int64_t slab) {
      ASSERT_EQ(w.kquant, kind) << name;
      expect_holds_file_values(f, w, name, slab, type);
    };
    const LayerWeights& moe = m->weights().layers[1];
    expect_same(m->weights().embed_tokens, "token_embd.weight", 0);
    expect_same(m->weights().lm_head, "output.weight", 0);
    expect_same(moe.moe.experts[2].gate_proj, "blk.1.ffn_gate_exps.weight", 2);
    EXPECT_EQ(f.find("blk.1.ffn_down_exps.weight")->type, uint32_t(fallback)) << tname;  // 96 columns
    // The logits move by what the rounding moves the routing of these random weights (as for
    // Q8_0/Q4_0 above): measured 16% for Q6_K (with its Q8_0 fallbacks) and 44% for Q4_K.
    const Eval got = evaluate(*m);
    const auto [rel, agree] = compare(got.logits, want.logits, size_t(m->config().vocab_size));
    EXPECT_GT(rel, 0.0) << tname;
    EXPECT_LT(rel, max_rel) << tname;
    std::printf("%s v3-tiny-fp8: mean |diff| / mean |logit| %.4f, argmax agreement %.2f\n", tname.c_str(), rel, agree);
  }
}

TEST_P(GgufModelRoundTrip, SplitSetLoadsAndAMissingSplitIsNamed) {
  const test::TempDir dir;
  const auto paths = export_fixture(GetParam(), dir.file("m.gguf"), GgmlType::BF16, 16);
  ASSERT_GE(paths.size(), 3u);
  EXPECT_EQ(paths[0], dir.file("m-00001-of-0000" + std::to_string(paths.size()) + ".gguf"));
  const Eval want = evaluate(*Model::load(test::model_path(GetParam())));
  EXPECT_EQ(evaluate(*Model::load(paths[1])).logits, want.logits);  // any member names the set
  std::filesystem::remove(paths[1]);
  const std::string e = error_of([&] { Model::load(paths[0]); });
  EXPECT_NE(e.find(paths[1]), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GgufModelRoundTrip, ::testing::Values("v3-tiny", "v2-lite-tiny"));

// The older llama.cpp layout: one attn_kv_b per layer instead of attn_k_b / attn_v_b, and
// key_length / value_length holding the per-head dims.
TEST(GgufModel, CombinedKvBOfOlderFilesBinds) {
  const test::TempDir dir;
  const auto ref = Model::load(test::model_path("v2-lite-tiny"));
  const std::string path = dir.file("m.gguf");
  export_fixture("v2-lite-tiny", path, GgmlType::F32);
  // Rewrite: the model's kv_b_proj under attn_kv_b, every other tensor and key as exported.
  const GgufFile f(path);
  GgufWriter w;
  const ModelConfig& c = ref->config();
  for (const auto& [key, v] : f.contents().metadata) {
    if (key.find("_mla") != std::string::npos) continue;
    if (key == "deepseek2.attention.key_length") w.add_u32(key, uint32_t(c.qk_head_dim()));
    else if (key == "deepseek2.attention.value_length") w.add_u32(key, uint32_t(c.v_head_dim));
    else if (v.kind == GgufValue::String) w.add_string(key, v.s);
    else if (v.kind == GgufValue::Float) w.add_f32(key, float(v.f));
    else if (v.kind == GgufValue::Int) w.add_u32(key, uint32_t(v.i));
  }
  for (const GgufTensor& t : f.contents().tensors) {
    if (t.name.find("attn_v_b") != std::string::npos) continue;
    if (t.name.find("attn_k_b") == std::string::npos) {
      w.add_tensor(t.name, GgmlType(t.type), t.ne, t.data, t.nbytes);
      continue;
    }
    const std::string blk = t.name.substr(0, t.name.find(".attn_k_b"));
    const Weight& kv = ref->weights().layers[size_t(std::stoi(blk.substr(4)))].self_attn.kv_b_proj;
    std::vector<float> rows(size_t(kv.rows * kv.cols));
    for (int64_t r = 0; r < kv.rows; ++r) weight_row_f32(rows.data() + r * kv.cols, kv, r);
    w.add_tensor(blk + ".attn_kv_b.weight", GgmlType::F32, {kv.cols, kv.rows}, rows.data(), rows.size() * 4);
  }
  const std::string old = dir.file("old.gguf");
  w.write(old);
  EXPECT_EQ(evaluate(*Model::load(old)).logits, evaluate(*ref).logits);
}

// A byte-for-byte copy of `path` with `edit` applied to the image.
std::string damaged(const std::string& path, const std::string& out, const std::function<void(std::string&)>& edit) {
  std::string img = test::read_text(path);
  edit(img);
  test::write_text(out, img);
  return out;
}

TEST(GgufModel, DamagedFilesNameTheFileAndTensor) {
  const test::TempDir dir;
  const std::string good = dir.file("m.gguf");
  export_fixture("v3-tiny", good, GgmlType::F32);
  // Missing tensor: rename one in the header (same length).
  const std::string name = "blk.1.attn_q_b.weight";
  const std::string renamed = damaged(good, dir.file("missing.gguf"), [&](std::string& img) {
    img.replace(img.find(name), name.size(), "blk.1.attn_q_x.weight");
  });
  std::string e = error_of([&] { Model::load(renamed); });
  EXPECT_NE(e.find(renamed), std::string::npos) << e;
  EXPECT_NE(e.find("missing tensor '" + name + "'"), std::string::npos) << e;
  // Wrong shape: ne[0] and ne[1] swapped (same byte size).
  const std::string swapped = damaged(good, dir.file("shape.gguf"), [&](std::string& img) {
    const size_t at = img.find(name) + name.size() + 4;  // after the name and n_dims
    std::string ne0 = img.substr(at, 8);
    img.replace(at, 8, img.substr(at + 8, 8));
    img.replace(at + 8, 8, ne0);
  });
  e = error_of([&] { Model::load(swapped); });
  EXPECT_NE(e.find("tensor '" + name + "' has shape"), std::string::npos) << e;
  // Another architecture.
  const std::string arch = damaged(good, dir.file("arch.gguf"), [&](std::string& img) {
    img.replace(img.find("deepseek2"), 9, "deepseekX");
  });
  e = error_of([&] { Model::load(arch); });
  EXPECT_NE(e.find("general.architecture is 'deepseekX'"), std::string::npos) << e;
  // Truncated: the last tensor's data cut off.
  const std::string cut = damaged(good, dir.file("cut.gguf"), [](std::string& img) { img.resize(img.size() - 100); });
  e = error_of([&] { Model::load(cut); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  // A split file alone, without its set's name.
  const auto parts = export_fixture("v3-tiny", dir.file("s.gguf"), GgmlType::F32, 40);
  std::filesystem::rename(parts[0], dir.file("lone.gguf"));
  e = error_of([&] { Model::load(dir.file("lone.gguf")); });
  EXPECT_NE(e.find("split.count"), std::string::npos) << e;
}

TEST(GgufTokenizer, EncodesAndDecodesAsTokenizerJson) {
  const std::string src = test::data_path("tokenizer/deepseek-v3");
  const Tokenizer ref = Tokenizer::load(src);
  const json tj = read_json_file(src + "/tokenizer.json"), cj = read_json_file(src + "/tokenizer_config.json");
  GgufWriter w;
  add_gguf_tokenizer(w, tj, &cj, ref.vocab_size(), "tokenizer.json");
  const test::TempDir dir;
  w.write(dir.file("tok.gguf"));
  const Tokenizer got = Tokenizer::load(dir.file("tok.gguf"));
  EXPECT_EQ(got.bos_id(), ref.bos_id());
  EXPECT_EQ(got.eos_id(), ref.eos_id());
  EXPECT_EQ(got.config().add_bos_token, ref.config().add_bos_token);
  EXPECT_EQ(got.config().chat_template, ref.config().chat_template);
  std::ifstream cases(test::data_path("tokenizer/cases.jsonl"));
  int n = 0;
  for (std::string line; std::getline(cases, line); ++n) {
    const std::string text = json::parse(line)["text"].get<std::string>();
    const std::vector<int32_t> ids = ref.encode(text);
    ASSERT_EQ(got.encode(text), ids) << text;
    EXPECT_EQ(got.decode(ids), ref.decode(ids)) << text;
    EXPECT_EQ(got.decode(ids, true), ref.decode(ids, true)) << text;
  }
  EXPECT_GT(n, 10);
  for (const char* f : {"code.txt", "multi.txt", "zh.txt"}) {
    const std::string text = test::read_text(test::data_path(std::string("tokenizer/text/") + f));
    EXPECT_EQ(got.encode(text), ref.encode(text)) << f;
  }
}

TEST(GgufTokenizer, OtherTokenizersAreNamed) {
  GgufWriter w;
  w.add_string("tokenizer.ggml.model", "llama");
  const test::TempDir dir;
  w.write(dir.file("t.gguf"));
  const std::string e = error_of([&] { Tokenizer::load(dir.file("t.gguf")); });
  EXPECT_NE(e.find("tokenizer.ggml.model is 'llama'"), std::string::npos) << e;
}

}  // namespace
}  // namespace dsv3
