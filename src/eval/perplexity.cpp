#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "eval/score.h"
#include "io/json_file.h"

namespace dsv3::eval {

std::vector<int32_t> text_tokens(const Tokenizer& tok, const std::string& text, bool lines, const ModelConfig& cfg) {
  if (!lines) return tok.encode(text);
  if (cfg.eos_token_ids.empty()) fail("--lines: the model's config.json has no eos_token_id");
  std::vector<int32_t> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    tok.encode_append(line, out);
    out.push_back(int32_t(cfg.eos_token_ids.front()));
  }
  return out;
}

std::vector<float> chunk_logprobs(const Model& m, const int32_t* tokens, int64_t ctx) {
  const int64_t V = m.config().vocab_size;
  std::vector<float> lp(size_t(ctx * V));
  ScoreRequest r{std::vector<int32_t>(tokens, tokens + ctx), 0, ctx};
  // One forward for the whole chunk, as the chunk would be prefilled.
  score_sequences(m, {r}, [&](int64_t, int64_t pos, const float* row) { std::copy(row, row + V, lp.begin() + pos * V); },
                  std::max<int64_t>(ctx, 1));
  return lp;
}

std::vector<PositionBucket> position_buckets(int64_t ctx) {
  std::vector<PositionBucket> b;
  for (int64_t from = 1; from < ctx; from *= 2) b.push_back({from, std::min(2 * from, ctx), 0, 0.0});
  return b;
}

PerplexityResult perplexity(const Model& m, const std::vector<int32_t>& tokens, int64_t ctx, int64_t max_chunks) {
  PerplexityResult res;
  res.ctx = ctx;
  res.chunks = int64_t(tokens.size()) / ctx;
  if (max_chunks >= 0) res.chunks = std::min(res.chunks, max_chunks);
  if (res.chunks < 1) fail("the text has ", tokens.size(), " tokens: fewer than one chunk of ", ctx);
  res.by_position = position_buckets(ctx);
  std::vector<ScoreRequest> chunks;
  for (int64_t c = 0; c < res.chunks; ++c)
    chunks.push_back({std::vector<int32_t>(tokens.begin() + c * ctx, tokens.begin() + (c + 1) * ctx), 0, ctx - 1});
  const int64_t first = first_scored_row(ctx);
  score_sequences(
      m, chunks,
      [&](int64_t c, int64_t pos, const float* lp) {
        const double nll = -double(lp[chunks[size_t(c)].tokens[size_t(pos + 1)]]);
        if (pos >= first) res.nll.push_back(nll);
        for (PositionBucket& b : res.by_position)
          if (pos + 1 >= b.from && pos + 1 < b.to) ++b.n, b.nll_sum += nll;
      },
      std::max<int64_t>(ctx, 512));
  return res;
}

Report perplexity_report(const std::string& task, const PerplexityResult& res) {
  Report r;
  r.task = task;
  r.kind = "ppl";
  const Interval nll = normal_mean_interval(res.nll);
  r.metrics.push_back({"perplexity", std::exp(mean(res.nll)), int64_t(res.nll.size()), {std::exp(nll.lo), std::exp(nll.hi)}, "normal"});
  json by = json::array();
  std::string md = cat("perplexity by position (", res.chunks, " chunks of ", res.ctx, " tokens, every position):\n\n",
                       "| positions | tokens | perplexity |\n|---|---|---|\n");
  for (const PositionBucket& b : res.by_position) {
    if (b.n == 0) continue;
    const double ppl = std::exp(b.nll_sum / double(b.n));
    by.push_back({{"from", b.from}, {"to", b.to}, {"n", b.n}, {"perplexity", ppl}});
    char v[32];
    std::snprintf(v, sizeof v, "%.3f", ppl);
    md += cat("| ", b.from, "-", b.to - 1, " | ", b.n, " | ", v, " |\n");
  }
  r.detail["chunks"] = res.chunks;
  r.detail["ctx"] = res.ctx;
  r.detail["by_position"] = by;
  r.detail_markdown = md;
  return r;
}

}  // namespace dsv3::eval
