// dsv3 perplexity: perplexity of a text under a model, and how far its token distributions are
// from a base model's (mean KL divergence, top-1 agreement), measured as llama-perplexity
// --kl-divergence does: the text is cut into chunks of --ctx tokens, each run from an empty
// cache, and the second half of each chunk is scored (every scored token has at least ctx/2 of
// context).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "eval/perplexity.h"
#include "model/model.h"
#include "model_path.h"
#include "text_prompt.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 perplexity --model DIR --text FILE [--lines] [--ctx 256] [--chunks N] [--kl-base DIR|FILE]\n"
    "                       [--save-logits FILE] [--threads N]\n"
    "Perplexity of FILE's tokens: chunks of --ctx tokens (at most --chunks), each from an empty cache,\n"
    "scoring the second half of each chunk. --kl-base adds the mean KL divergence KL(base || model)\n"
    "and the top-1 agreement against a base model folder, or a file of the base's log-probabilities\n"
    "written by --save-logits (which must come from the same text, --ctx and --chunks).\n"
    "--lines: each non-blank line is a document followed by EOS, as dsv3 train --doc-split line packs them.\n";

constexpr char kMagic[8] = {'D', 'S', 'V', '3', 'P', 'P', 'L', '1'};

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

using eval::chunk_logprobs;  // one implementation with dsv3 eval --kind ppl (src/eval/perplexity.h)
using eval::text_tokens;

// The base's log-probabilities: from a model folder, or a file of --save-logits.
class Base {
 public:
  Base(const std::string& path, const std::vector<int32_t>& tokens, int64_t ctx, int64_t V) : V_(V) {
    if (std::filesystem::is_directory(path)) {
      model_ = load_model(path);
      if (model_->config().vocab_size != V) fail("--kl-base ", path, ": vocabulary ", model_->config().vocab_size, " differs from the model's ", V);
      return;
    }
    file_.open(path, std::ios::binary);
    if (!file_) fail("--kl-base ", path, ": cannot open");
    char magic[8];
    int64_t head[3];
    file_.read(magic, 8).read(reinterpret_cast<char*>(head), sizeof head);
    if (!file_ || std::memcmp(magic, kMagic, 8) != 0) fail("--kl-base ", path, ": not a dsv3 perplexity logits file");
    std::vector<int32_t> saved(size_t(std::max<int64_t>(head[2], 0)));
    file_.read(reinterpret_cast<char*>(saved.data()), std::streamsize(saved.size() * 4));
    if (head[0] != V || head[1] != ctx || saved != tokens)
      fail("--kl-base ", path, ": made with a different vocabulary, --ctx, --chunks or text");
  }

  // log-probabilities of scored rows [first, ctx) of the chunk (first = ctx/2 - ... as caller says)
  std::vector<float> rows(const int32_t* chunk, int64_t ctx, int64_t first, int64_t n) {
    std::vector<float> out(size_t(n * V_));
    if (model_) {
      const std::vector<float> lp = chunk_logprobs(*model_, chunk, ctx);
      std::copy(lp.begin() + first * V_, lp.begin() + (first + n) * V_, out.begin());
      return out;
    }
    file_.read(reinterpret_cast<char*>(out.data()), std::streamsize(out.size() * 4));
    if (!file_) fail("--kl-base: the logits file ends early");
    return out;
  }

 private:
  int64_t V_;
  std::unique_ptr<Model> model_;
  std::ifstream file_;
};

struct Stats {
  std::vector<double> nll, kld;
  int64_t top1_same = 0;
  static double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / double(v.size());
  }
  static double stderr_of_mean(const std::vector<double>& v) {
    if (v.size() < 2) return 0;
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / double(v.size() - 1) / double(v.size()));
  }
};

void print(const Stats& s, bool kl, int64_t chunks, int64_t ctx) {
  const double mnll = Stats::mean(s.nll), ppl = std::exp(mnll);
  std::printf("chunks %lld x %lld tokens, %zu scored\n", (long long)chunks, (long long)ctx, s.nll.size());
  std::printf("PPL  %.4f +/- %.4f   (mean NLL %.5f)\n", ppl, ppl * Stats::stderr_of_mean(s.nll), mnll);
  if (!kl) return;
  std::vector<double> sorted = s.kld;
  std::sort(sorted.begin(), sorted.end());
  const auto pct = [&](double p) { return sorted[std::min(sorted.size() - 1, size_t(p * double(sorted.size())))]; };
  std::printf("KLD  mean %.6f +/- %.6f   median %.6f   p99 %.6f   max %.6f\n", Stats::mean(s.kld),
              Stats::stderr_of_mean(s.kld), pct(0.5), pct(0.99), sorted.back());
  std::printf("top-1 agreement %.3f%%\n", 100.0 * double(s.top1_same) / double(s.kld.size()));
}

}  // namespace

int cmd_perplexity(int argc, char** argv) {
  const Args a(argc, argv, {"model", "text", "ctx", "chunks", "kl-base", "save-logits", "threads"}, {"help", "lines"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  apply_threads(a);
  const std::string dir = resolve_model_dir(a.str("model"));
  const auto tok = load_model_tokenizer(dir);
  if (!tok) fail(dir, ": no tokenizer.json to encode --text with");
  const auto model = load_model(dir);
  const int64_t V = model->config().vocab_size;
  const int64_t ctx = a.integer("ctx", 256);
  if (ctx < 4 || ctx > model->config().max_position_embeddings)
    fail("--ctx must be in [4, ", model->config().max_position_embeddings, "]");
  std::vector<int32_t> tokens = text_tokens(*tok, read_text_file(a.required("text")), a.has("lines"), model->config());
  int64_t chunks = int64_t(tokens.size()) / ctx;
  if (a.has("chunks")) chunks = std::min(chunks, a.integer("chunks", chunks));
  if (chunks < 1) fail("--text has ", tokens.size(), " tokens: fewer than one chunk of --ctx ", ctx);
  tokens.resize(size_t(chunks * ctx));

  // Scored: positions [first, ctx - 1), each predicting the next token.
  const int64_t first = eval::first_scored_row(ctx), n = ctx - 1 - first;
  std::unique_ptr<Base> base;
  if (a.has("kl-base")) base = std::make_unique<Base>(a.str("kl-base"), tokens, ctx, V);
  std::ofstream save;
  if (a.has("save-logits")) {
    save.open(a.str("save-logits"), std::ios::binary);
    const int64_t head[3] = {V, ctx, int64_t(tokens.size())};
    save.write(kMagic, 8).write(reinterpret_cast<const char*>(head), sizeof head);
    save.write(reinterpret_cast<const char*>(tokens.data()), std::streamsize(tokens.size() * 4));
  }
  Stats s;
  for (int64_t c = 0; c < chunks; ++c) {
    const int32_t* chunk = tokens.data() + c * ctx;
    const std::vector<float> lp = chunk_logprobs(*model, chunk, ctx);
    const float* q = lp.data() + first * V;
    if (save) save.write(reinterpret_cast<const char*>(q), std::streamsize(n * V * 4));
    const std::vector<float> p = base ? base->rows(chunk, ctx, first, n) : std::vector<float>();
    for (int64_t j = 0; j < n; ++j) {
      const float* qj = q + j * V;
      s.nll.push_back(-double(qj[chunk[first + j + 1]]));
      if (!base) continue;
      const float* pj = p.data() + j * V;
      double kl = 0;
      for (int64_t v = 0; v < V; ++v) kl += std::exp(double(pj[v])) * (double(pj[v]) - double(qj[v]));
      s.kld.push_back(std::max(kl, 0.0));
      s.top1_same += std::max_element(pj, pj + V) - pj == std::max_element(qj, qj + V) - qj;
    }
  }
  if (save && !save.flush()) fail(a.str("save-logits"), ": write failed");
  print(s, base != nullptr, chunks, ctx);
  return 0;
}

}  // namespace dsv3::cli
