#include "eval/mc.h"

#include <algorithm>

#include "core/error.h"
#include "eval/progress.h"
#include "eval/prompt.h"
#include "eval/score.h"

namespace dsv3::eval {

McPair encode_mc_pair(const Tokenizer& tok, const std::string& context, const std::string& continuation,
                      PromptStart start) {
  const size_t keep = context.find_last_not_of(" \t\r\n");
  const std::string ctx = keep == std::string::npos ? std::string() : context.substr(0, keep + 1);
  const std::string cont = context.substr(ctx.size()) + continuation;
  McPair p;
  p.context = encode_prompt(tok, ctx, false, start);
  const std::vector<int32_t> whole = encode_prompt(tok, ctx + cont, false, start);
  p.continuation.assign(whole.begin() + int64_t(std::min(p.context.size(), whole.size())), whole.end());
  if (p.context.empty() && tok.eos_id() >= 0) p.context = {tok.eos_id()};  // lm-eval's empty-context rule
  return p;
}

std::vector<McItemResult> score_mc(const Model& m, const Tokenizer& tok, const std::vector<McItem>& items,
                                   const McOptions& opt) {
  const int64_t ctx_limit = m.config().max_position_embeddings;
  std::vector<McItemResult> res(items.size());
  Progress progress("mc", int64_t(items.size()), opt.progress);
  for (size_t b = 0; b < items.size(); b += size_t(std::max<int64_t>(opt.items_per_batch, 1))) {
    const size_t e = std::min(items.size(), b + size_t(std::max<int64_t>(opt.items_per_batch, 1)));
    std::vector<ScoreRequest> reqs;
    std::vector<std::pair<size_t, size_t>> owner;  // (item, choice) of each request
    for (size_t i = b; i < e; ++i) {
      const McItem& it = items[i];
      res[i].loglik.assign(it.choices.size(), 0.0);
      std::vector<ScoreRequest> mine;
      for (const std::string& choice : it.choices) {
        McPair p = encode_mc_pair(tok, it.question, opt.delimiter + choice, opt.start);
        const int64_t n = int64_t(p.context.size() + p.continuation.size());
        if (p.context.empty()) res[i].failure = "the question encodes to no tokens and the tokenizer has no EOS";
        else if (p.continuation.empty()) res[i].failure = "a choice encodes to no tokens";
        else if (n > ctx_limit) res[i].failure = cat("question and choice take ", n, " tokens, more than the context of ", ctx_limit);
        if (!res[i].failure.empty()) break;
        ScoreRequest r{std::move(p.context), 0, -1};
        r.first = int64_t(r.tokens.size()) - 1;
        r.tokens.insert(r.tokens.end(), p.continuation.begin(), p.continuation.end());
        mine.push_back(std::move(r));
      }
      if (!res[i].failure.empty()) continue;
      for (size_t c = 0; c < mine.size(); ++c) {
        reqs.push_back(std::move(mine[c]));
        owner.emplace_back(i, c);
      }
    }
    const std::vector<Continuation> scores = score_continuations(m, reqs);
    for (size_t r = 0; r < reqs.size(); ++r) res[owner[r].first].loglik[owner[r].second] = scores[r].logprob;
    for (size_t i = b; i < e; ++i) {
      if (!res[i].failure.empty()) continue;
      const McOutcome o = mc_outcome(res[i].loglik, items[i].choices);
      res[i].pred = o.pred;
      res[i].pred_norm = o.pred_norm;
    }
    progress.update(int64_t(e));
  }
  progress.finish();
  return res;
}

Report mc_report(const std::string& task, const std::vector<McItem>& items, const std::vector<McItemResult>& res) {
  Report r;
  r.task = task;
  r.kind = "mc";
  int64_t acc = 0, acc_norm = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    acc += res[i].pred == items[i].answer;
    acc_norm += res[i].pred_norm == items[i].answer;
    if (!res[i].failure.empty()) r.failures.push_back({items[i].line, res[i].failure});
  }
  const int64_t n = int64_t(items.size());
  r.metrics = {proportion_metric("accuracy", acc, n), proportion_metric("acc_norm", acc_norm, n)};
  return r;
}

}  // namespace dsv3::eval
