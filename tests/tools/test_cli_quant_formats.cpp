// dsv3 quantize --format int8|int4 (blockwise_int8 and GPTQ layouts) and dsv3 perplexity:
// the tensors each layout prescribes, a dequantization within the format's rounding of the
// source, predictions kept, and KL divergence / top-1 agreement that can be checked by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/int_quant.h"
#include "io/checkpoint.h"
#include "test_util.h"

namespace dsv3::test {
namespace {

const std::string kDefaultModel = data_path("../../models/default");

std::vector<float> logits(const std::string& model, const TempDir& tmp) {
  const std::string out = tmp.file("logits.f32");
  const RunResult r = run_dsv3("logits --model " + model + " --prompt 'dog, domestic dog: a member of the genus Canis' --out " + out + " --threads 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return read_f32_file(out);
}

// Relative L1 distance of two logit sets, and the fraction of positions with the same argmax.
std::pair<double, double> compare(const std::vector<float>& a, const std::vector<float>& b, size_t V) {
  double diff = 0, mag = 0;
  size_t agree = 0, T = a.size() / V;
  for (size_t t = 0; t < T; ++t) {
    size_t ia = 0, ib = 0;
    for (size_t i = 0; i < V; ++i) {
      diff += std::fabs(a[t * V + i] - b[t * V + i]), mag += std::fabs(a[t * V + i]);
      if (a[t * V + i] > a[t * V + ia]) ia = i;
      if (b[t * V + i] > b[t * V + ib]) ib = i;
    }
    agree += ia == ib;
  }
  return {diff / mag, double(agree) / double(T)};
}

TEST(CliQuantFormats, Int8IsTheFp8LayoutWithInt8CodesWithinHalfAStep) {
  TempDir tmp;
  const RunResult r = run_dsv3("quantize --model " + model_path("v3-tiny") + " --out " + tmp.file("q") + " --format int8");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(read_text(tmp.file("q/config.json")).find("\"quant_method\": \"blockwise_int8\""), std::string::npos);
  const Checkpoint src(model_path("v3-tiny")), q(tmp.file("q"));
  const std::string name = "model.layers.1.mlp.experts.3.down_proj.weight";
  const TensorInfo& t = *q.find(name);
  const TensorInfo& s = *q.find(name + "_scale_inv");
  ASSERT_EQ(t.dtype, DType::I8);
  ASSERT_EQ(s.shape, (std::vector<int64_t>{(t.shape[0] + 127) / 128, (t.shape[1] + 127) / 128}));
  const std::vector<float> w = tensor_to_f32(*src.find(name)), scale = tensor_to_f32(s);
  const int8_t* codes = reinterpret_cast<const int8_t*>(t.data);
  const int64_t C = t.shape[1];
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float sc = scale[size_t((i / C / 128) * s.shape[1] + (i % C) / 128)];
    ASSERT_LE(std::fabs(float(codes[i]) * sc - w[size_t(i)]), 0.5f * sc * 1.0001f) << i;
  }
  EXPECT_EQ(q.find("model.embed_tokens.weight")->dtype, src.find("model.embed_tokens.weight")->dtype);
}

// A GPTQ matrix read straight from its published layout at `bits` (4 or 8), per = 32 / bits:
// value (i, o) at bits bits·(i % per) of qweight[i / per][o], the zero of (g, o), stored minus
// one, at bits·(o % per) of qzeros[g][o / per], the F16 scale at scales[g][o].
struct GptqWords {
  const int32_t* qweight;
  const int32_t* qzeros;
  const uint16_t* scales;
  int64_t out;
  int bits;
  uint32_t field(int32_t word, int64_t k) const { return (uint32_t(word) >> (bits * k)) & ((1u << bits) - 1); }
  int q(int64_t i, int64_t o) const { return int(field(qweight[(i / (32 / bits)) * out + o], i % (32 / bits))); }
  int zero(int64_t g, int64_t o) const {
    const int64_t per = 32 / bits;
    return int(field(qzeros[g * ((out + per - 1) / per) + o / per], o % per)) + 1;
  }
  float scale(int64_t g, int64_t o) const { return f16_to_f32(scales[g * out + o]); }
};

GptqWords gptq_words(const Checkpoint& q, const std::string& stem, int64_t out, int bits) {
  return {reinterpret_cast<const int32_t*>(q.find(stem + ".qweight")->data),
          reinterpret_cast<const int32_t*>(q.find(stem + ".qzeros")->data),
          reinterpret_cast<const uint16_t*>(q.find(stem + ".scales")->data), out, bits};
}

// Symmetric (zero 8) and, with --asym, a zero point per group and output ("sym": false).
TEST(CliQuantFormats, Int4IsGptqWithinOneStepAndLoads) {
  for (const bool asym : {false, true}) {
  SCOPED_TRACE(asym ? "--asym" : "symmetric");
  TempDir tmp;
  const RunResult r = run_dsv3("quantize --model " + model_path("v3-tiny") + " --out " + tmp.file("q") +
                               " --format int4 --group 32 --lm-head" + (asym ? " --asym" : ""));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string cfg = read_text(tmp.file("q/config.json"));
  EXPECT_NE(cfg.find("\"quant_method\": \"gptq\""), std::string::npos);
  EXPECT_NE(cfg.find("\"group_size\": 32"), std::string::npos);
  EXPECT_NE(cfg.find("\"lm_head\": true"), std::string::npos);
  EXPECT_NE(cfg.find(asym ? "\"sym\": false" : "\"sym\": true"), std::string::npos);
  const Checkpoint src(model_path("v3-tiny")), q(tmp.file("q"));
  const std::string stem = "model.layers.0.self_attn.q_b_proj";
  EXPECT_EQ(q.find(stem + ".weight"), nullptr);
  EXPECT_NE(q.find("lm_head.qweight"), nullptr);  // --lm-head
  EXPECT_EQ(q.find("model.embed_tokens.weight")->dtype, src.find("model.embed_tokens.weight")->dtype);
  const TensorInfo &qw = *q.find(stem + ".qweight"), &qz = *q.find(stem + ".qzeros"), &sc = *q.find(stem + ".scales"),
                   &gi = *q.find(stem + ".g_idx");
  const TensorInfo& w = *src.find(stem + ".weight");
  const int64_t out = w.shape[0], in = w.shape[1];
  EXPECT_EQ(qw.dtype, DType::I32);
  EXPECT_EQ(qw.shape, (std::vector<int64_t>{in / 8, out}));
  EXPECT_EQ(qz.shape, (std::vector<int64_t>{in / 32, (out + 7) / 8}));
  EXPECT_EQ(sc.dtype, DType::F16);
  EXPECT_EQ(gi.shape, (std::vector<int64_t>{in}));
  // GPTQ's published dequantization: W[o][i] = scale · (q − zero).
  const GptqWords g = gptq_words(q, stem, out, 4);
  const std::vector<float> ref = tensor_to_f32(w);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      const int qv = g.q(i, o), z = g.zero(i / 32, o);
      const float d = g.scale(i / 32, o);
      const float v = ref[size_t(o * in + i)];
      if (!asym) {
        ASSERT_EQ(z, 8);
        ASSERT_LE(std::fabs(d * float(qv - z) - v), d * 1.0001f) << o << "," << i;
        continue;
      }
      // Asymmetric: a zero the "gptq" format can store (1..15), and each code the nearest
      // level to the value within the group's range (its range may clip the extremes).
      ASSERT_GE(z, 1);
      ASSERT_LE(z, 15);
      ASSERT_EQ(qv, int(std::clamp(std::nearbyint(v / d) + float(z), 0.0f, 15.0f))) << o << "," << i;
    }
  const RunResult gen = run_dsv3("generate --model " + tmp.file("q") + " --tokens 5,9,13 --max-new-tokens 4");
  EXPECT_EQ(gen.exit_code, 0) << gen.err;
  }
}

// --format int8 --group 32: 8-bit GPTQ (4 values per int32), which binds as Q8_0 rows and runs.
TEST(CliQuantFormats, Int8WithAGroupIsEightBitGptqAndLoads) {
  TempDir tmp;
  const RunResult r = run_dsv3("quantize --model " + model_path("v3-tiny") + " --out " + tmp.file("q") + " --format int8 --group 32");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string cfg = read_text(tmp.file("q/config.json"));
  EXPECT_NE(cfg.find("\"quant_method\": \"gptq\""), std::string::npos);
  EXPECT_NE(cfg.find("\"bits\": 8"), std::string::npos);
  const Checkpoint src(model_path("v3-tiny")), q(tmp.file("q"));
  const std::string stem = "model.layers.0.self_attn.q_b_proj";
  const TensorInfo &qw = *q.find(stem + ".qweight"), &qz = *q.find(stem + ".qzeros"), &sc = *q.find(stem + ".scales");
  const TensorInfo& w = *src.find(stem + ".weight");
  const int64_t out = w.shape[0], in = w.shape[1];
  EXPECT_EQ(qw.shape, (std::vector<int64_t>{in / 4, out}));
  EXPECT_EQ(qz.shape, (std::vector<int64_t>{in / 32, (out + 3) / 4}));
  EXPECT_EQ(sc.shape, (std::vector<int64_t>{in / 32, out}));
  // GPTQ's published dequantization at 8 bits, zero 128: within half a step of the source.
  const GptqWords g = gptq_words(q, stem, out, 8);
  const std::vector<float> ref = tensor_to_f32(w);
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      const int qv = g.q(i, o), z = g.zero(i / 32, o);
      const float d = g.scale(i / 32, o);
      ASSERT_EQ(z, 128);
      ASSERT_LE(std::fabs(d * float(qv - z) - ref[size_t(o * in + i)]), d * 1.0001f) << o << "," << i;
    }
  const RunResult gen = run_dsv3("generate --model " + tmp.file("q") + " --tokens 5,9,13 --max-new-tokens 4");
  EXPECT_EQ(gen.exit_code, 0) << gen.err;
}

// Measured on the default model: INT8 0.6% relative logit difference, INT4 g32 about 4% (with
// --asym alike).
TEST(CliQuantFormats, TrainedModelKeepsItsPredictions) {
  TempDir tmp;
  const std::vector<float> base = logits(kDefaultModel, tmp);
  for (const std::string fmt : {"int8", "int8 --group 32", "int4 --group 32", "int4 --group 32 --asym"}) {
    ASSERT_EQ(run_dsv3("quantize --model " + kDefaultModel + " --out " + tmp.file("q") + " --format " + fmt).exit_code, 0);
    const auto [diff, agree] = compare(base, logits(tmp.file("q"), tmp), 4096);
    const bool eight = fmt.rfind("int8", 0) == 0;
    EXPECT_LT(diff, eight ? 0.02 : 0.1) << fmt;
    EXPECT_GE(agree, eight ? 0.9 : 0.7) << fmt;
    std::filesystem::remove_all(tmp.file("q"));
  }
}

TEST(CliQuantFormats, BadFormatOptionsAreOneClearLine) {
  TempDir tmp;
  const RunResult g = run_dsv3("quantize --model " + model_path("v3-tiny") + " --out " + tmp.file("q") + " --format int4 --group 48");
  EXPECT_NE(g.exit_code, 0);
  EXPECT_NE(g.err.find("--group must be a positive multiple of 32"), std::string::npos) << g.err;
  const RunResult f = run_dsv3("quantize --model " + model_path("v3-tiny") + " --out " + tmp.file("q") + " --format int3");
  EXPECT_NE(f.err.find("--format must be fp8, int8 or int4"), std::string::npos) << f.err;
  const RunResult a = run_dsv3("quantize --model " + model_path("v3-tiny") + " --out " + tmp.file("q") + " --format int8 --asym");
  EXPECT_NE(a.exit_code, 0);
  EXPECT_NE(a.err.find("--asym applies to the GPTQ formats only"), std::string::npos) << a.err;
  const RunResult fg = run_dsv3("quantize --model " + model_path("v3-tiny") + " --out " + tmp.file("q") + " --format fp8 --group 32");
  EXPECT_NE(fg.exit_code, 0);
  EXPECT_NE(fg.err.find("--group applies to --format int8 and int4 only"), std::string::npos) << fg.err;
}

TEST(CliPerplexity, AgainstItselfKlIsZeroAndTopOneAgreesAndSavedLogitsGiveTheSame) {
  TempDir tmp;
  std::string text;
  for (int i = 0; i < 12; ++i) text += "dog, domestic dog, Canis familiaris: a member of the genus Canis\ncat: a small feline\n";
  write_text(tmp.file("t.txt"), text);
  const std::string common = "perplexity --model " + kDefaultModel + " --text " + tmp.file("t.txt") + " --lines --ctx 32 --chunks 3 --threads 1";
  const RunResult self = run_dsv3(common + " --kl-base " + kDefaultModel + " --save-logits " + tmp.file("b.lp"));
  ASSERT_EQ(self.exit_code, 0) << self.err;
  EXPECT_NE(self.out.find("chunks 3 x 32 tokens, 45 scored"), std::string::npos) << self.out;
  EXPECT_NE(self.out.find("KLD  mean 0.000000"), std::string::npos) << self.out;
  EXPECT_NE(self.out.find("top-1 agreement 100.000%"), std::string::npos) << self.out;
  const RunResult file = run_dsv3(common + " --kl-base " + tmp.file("b.lp"));
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, self.out);
  const RunResult other = run_dsv3("perplexity --model " + kDefaultModel + " --text " + tmp.file("t.txt") +
                                   " --lines --ctx 16 --chunks 3 --kl-base " + tmp.file("b.lp"));
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("made with a different vocabulary, --ctx, --chunks or text"), std::string::npos) << other.err;
}

// The perplexity of one chunk by hand from dsv3 logits: tokens of each line then EOS (--lines),
// positions ctx/2 .. ctx-2 scored.
TEST(CliPerplexity, MatchesTheLogitsCommand) {
  TempDir tmp;
  const std::string line = "cat: a small feline";
  write_text(tmp.file("t.txt"), line + "\n" + line + "\n" + line + "\n");
  const RunResult ids = run_dsv3("tokenize --tokenizer " + kDefaultModel + " --text '" + line + "'");
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  std::vector<int32_t> one;  // {"ids": [a, b, ...]}
  std::string digits;
  for (char ch : ids.out.substr(ids.out.find('['))) {
    if (std::isdigit(static_cast<unsigned char>(ch))) digits += ch;
    else if (!digits.empty()) one.push_back(std::stoi(digits)), digits.clear();
  }
  one.push_back(1);  // the default model's EOS
  std::vector<int32_t> tokens;
  while (tokens.size() < 16) tokens.insert(tokens.end(), one.begin(), one.end());
  tokens.resize(16);
  std::string list;
  for (int32_t t : tokens) list += (list.empty() ? "" : ",") + std::to_string(t);
  ASSERT_EQ(run_dsv3("logits --model " + kDefaultModel + " --tokens " + list + " --out " + tmp.file("l.f32")).exit_code, 0);
  const std::vector<float> lg = read_f32_file(tmp.file("l.f32"));
  double nll = 0;
  for (int64_t j = 8; j < 15; ++j) {
    const float* row = lg.data() + j * 4096;
    double mx = row[0], sum = 0;
    for (int v = 0; v < 4096; ++v) mx = std::max(mx, double(row[v]));
    for (int v = 0; v < 4096; ++v) sum += std::exp(double(row[v]) - mx);
    nll += mx + std::log(sum) - row[tokens[size_t(j + 1)]];
  }
  const RunResult r = run_dsv3("perplexity --model " + kDefaultModel + " --text " + tmp.file("t.txt") + " --lines --ctx 16 --chunks 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(std::stod(r.out.substr(r.out.find("PPL") + 4)), std::exp(nll / 7), 1e-3 * std::exp(nll / 7)) << r.out;
}

// The default model written as a llama.cpp GGUF (BF16, its own tokenizer in the metadata) runs
// through every --model command unchanged: the prompt encodes to the same ids and the logits
// are bit-identical; generate and perplexity take the file too.
TEST(CliQuantFormats, GgufOfTheDefaultModelRunsWithItsTokenizer) {
  TempDir tmp;
  const std::string gguf = tmp.file("default.gguf");
  const RunResult q = run_dsv3("quantize --model " + kDefaultModel + " --format gguf --type bf16 --out " + gguf);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_NE(q.out.find("with the tokenizer"), std::string::npos) << q.out;
  EXPECT_EQ(logits(gguf, tmp), logits(kDefaultModel, tmp));
  const std::string gen = "generate --prompt 'a dog is' --max-new-tokens 6 --temperature 0 --threads 1 --model ";
  const RunResult a = run_dsv3(gen + gguf), b = run_dsv3(gen + kDefaultModel);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  const RunResult bad = run_dsv3("quantize --model " + kDefaultModel + " --format gguf --type q5_k --out " + gguf);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("GGUF type 'q5_k' is not one dsv3 writes"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace dsv3::test
