#include "eval/gen.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "core/error.h"
#include "eval/progress.h"
#include "eval/prompt.h"
#include "infer/stop_strings.h"

namespace dsv3::eval {

namespace {

// One sample's text as it streams: decoded, then held back while a stop string may be forming.
struct TextState {
  TextState(const Tokenizer& tok, std::vector<std::string> stops) : decoder(tok, true), stop(std::move(stops)) {}
  StreamDecoder decoder;
  StopMatcher stop;
  GenOutput out;
};

}  // namespace

std::vector<GenOutput> generate_texts(const Model& m, const Tokenizer& tok, const std::vector<GenJob>& jobs,
                                      const GenOptions& opt, GenRunStats* stats) {
  BatcherOptions bo;
  bo.draft_tokens = opt.draft_tokens;
  Batcher batcher(m, bo);
  const int64_t ctx = batcher.context_length();
  std::vector<std::unique_ptr<TextState>> st(jobs.size());
  int64_t done = 0;
  GenRunStats rs;
  const auto t0 = std::chrono::steady_clock::now();
  Progress progress("gen", int64_t(jobs.size()), opt.progress);
  size_t next = 0;
  while (next < jobs.size() || !batcher.empty()) {
    for (; next < jobs.size() && batcher.size() < std::max<int64_t>(opt.max_sequences, 1); ++next) {
      const GenJob& j = jobs[next];
      std::vector<std::string> stops = opt.stop;
      stops.insert(stops.end(), j.stop.begin(), j.stop.end());
      auto& s = st[next] = std::make_unique<TextState>(tok, std::move(stops));
      const int64_t T = int64_t(j.prompt.size());
      if (T == 0 || T >= ctx) {
        s->out.failure = T == 0 ? "the prompt encodes to no tokens"
                                : cat("the prompt has ", T, " tokens: the context of ", ctx, " leaves no room to generate");
        ++done;
        continue;
      }
      SequenceRequest r;
      r.prompt = j.prompt;
      r.max_new_tokens = std::min(std::max<int64_t>(opt.max_new_tokens, 1), ctx - T);
      r.sampling = opt.sampling;
      r.sampling.seed = opt.sampling.seed + uint64_t(next);
      TextState* p = s.get();
      r.on_token = [p](const TokenEvent& ev) {
        ++p->out.tokens;
        p->out.ids.push_back(ev.token);
        p->out.text += p->stop.push(p->decoder.push(ev.token));
        return !p->stop.stopped();
      };
      r.on_finish = [p, &done](FinishReason, const SequenceStats&) {
        if (!p->stop.stopped()) {
          p->out.text += p->stop.push(p->decoder.finish());
          p->out.text += p->stop.flush();
        }
        ++done;
      };
      batcher.add(std::move(r));
    }
    if (!batcher.empty()) {
      const StepStats ss = batcher.step();
      ++rs.steps;
      rs.generated += ss.emitted;
    }
    progress.update(done);
  }
  progress.finish();
  rs.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (stats) *stats = rs;
  std::vector<GenOutput> out;
  for (auto& s : st) out.push_back(std::move(s->out));
  return out;
}

bool answer_matches(const std::string& extracted, const std::vector<std::string>& refs) {
  const std::string e = normalize_answer(extracted);
  return std::any_of(refs.begin(), refs.end(), [&](const std::string& r) { return normalize_answer(r) == e; });
}

std::vector<GenItemResult> run_gen_task(const Model& m, const Tokenizer& tok, const std::vector<GenItem>& items,
                                        const Extractor& ex, const GenOptions& opt, GenRunStats* stats) {
  if (opt.samples < 1) fail("the number of samples per prompt must be >= 1");
  std::vector<GenJob> jobs;
  for (const GenItem& it : items)
    for (int64_t k = 0; k < opt.samples; ++k) jobs.push_back({encode_prompt(tok, it.prompt, opt.chat, opt.start), it.stop});
  const std::vector<GenOutput> outs = generate_texts(m, tok, jobs, opt, stats);
  std::vector<GenItemResult> res(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    for (int64_t k = 0; k < opt.samples; ++k) {
      const GenOutput& o = outs[i * size_t(opt.samples) + size_t(k)];
      if (!o.failure.empty()) res[i].failure = o.failure;
      const std::optional<std::string> a = o.failure.empty() ? ex.extract(o.text) : std::nullopt;
      res[i].outputs.push_back(o.text);
      res[i].extracted.push_back(a.value_or(""));
      res[i].correct += a && answer_matches(*a, items[i].answers);
    }
  }
  return res;
}

Report gen_report(const std::string& task, const std::vector<GenItem>& items, const std::vector<GenItemResult>& res,
                  const GenOptions& opt) {
  Report r;
  r.task = task;
  r.kind = "gen";
  const int64_t n = int64_t(items.size());
  for (size_t i = 0; i < items.size(); ++i)
    if (!res[i].failure.empty()) r.failures.push_back({items[i].line, res[i].failure});
  if (opt.samples == 1) {
    int64_t c = 0;
    for (const auto& x : res) c += x.correct;
    r.metrics.push_back(proportion_metric("exact_match", c, n));
    return r;
  }
  for (int64_t k : opt.ks) {
    if (k < 1 || k > opt.samples) fail("pass@", k, " needs 1 <= k <= the samples per prompt (", opt.samples, ")");
    std::vector<double> per_item;
    for (const auto& x : res) per_item.push_back(pass_at_k(opt.samples, x.correct, k));
    r.metrics.push_back({cat("pass@", k), mean(per_item), n, bootstrap_mean_interval(per_item), "bootstrap"});
  }
  return r;
}

}  // namespace dsv3::eval
