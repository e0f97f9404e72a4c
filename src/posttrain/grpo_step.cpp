#include "io/json_file.h"
#include "posttrain/grpo_step.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "eval/prompt.h"
#include "model/model.h"

namespace dsv3::posttrain {

namespace {

int32_t pad_id(const Tokenizer& tok) { return std::max(tok.eos_id(), 0); }

}  // namespace

Dataset prompt_dataset(const std::vector<eval::GenItem>& items, const Tokenizer& tok, const eval::GenOptions& gen) {
  if (items.empty()) fail("GRPO: the prompt file has no items");
  std::vector<std::vector<int32_t>> prompts;
  int64_t T = 3;
  for (const eval::GenItem& it : items) {
    prompts.push_back(eval::encode_prompt(tok, it.prompt, gen.chat, gen.start));
    T = std::max<int64_t>(T, int64_t(prompts.back().size()));
  }
  Dataset d;
  d.train.T = d.val.T = T;
  for (const auto& p : prompts) {
    d.train.tokens.insert(d.train.tokens.end(), p.begin(), p.end());
    d.train.tokens.insert(d.train.tokens.end(), size_t(T) - p.size(), pad_id(tok));
  }
  d.train_docs = int64_t(items.size());
  return d;
}

GrpoStep::GrpoStep(const ModelConfig& cfg, const Tokenizer& tok, std::vector<eval::GenItem> items,
                   std::vector<WeightedReward> rewards, const std::string& reference_dir, const GrpoRunOptions& opt)
    : cfg_(cfg), tok_(tok), items_(std::move(items)), rewards_(std::move(rewards)),
      ref_(reference_dir, cfg.vocab_size), policy_(cfg, opt.precision), opt_(opt) {
  if (opt_.grpo.group < 2) fail("GRPO needs groups of at least 2 samples (--group)");
  if (rewards_.empty()) fail("GRPO needs at least one reward");
  for (const eval::GenItem& it : items_) {
    const size_t n = eval::encode_prompt(tok_, it.prompt, opt_.gen.chat, opt_.gen.start).size();
    if (int64_t(n) + 1 >= cfg_.max_position_embeddings)
      fail("GRPO prompt of line ", it.line, " has ", n, " tokens: the context of ", cfg_.max_position_embeddings,
           " leaves no room for an output");
  }
}

// Samples [first, first + count) as one batch: each row is prompt + output, padded to the
// longest; the targets are the output tokens alone (the prompt is masked).
TokenRows GrpoStep::rows_of(const std::vector<Sample>& s, size_t first, size_t count) const {
  TokenRows r;
  r.B = int64_t(count);
  r.T = cfg_.num_nextn_predict_layers + 2;
  for (size_t j = first; j < first + count; ++j)
    r.T = std::max<int64_t>(r.T, int64_t(s[j].prompt.size() + s[j].output.size()));
  r.T = std::min<int64_t>(r.T, cfg_.max_position_embeddings);
  r.tokens.assign(size_t(r.B * r.T), pad_id(tok_));
  r.mask.assign(size_t(r.B * r.T), 0);
  for (size_t j = 0; j < count; ++j) {
    const Sample& x = s[first + j];
    const size_t p = x.prompt.size(), o = std::min(x.output.size(), size_t(r.T) - p);
    std::copy(x.prompt.begin(), x.prompt.end(), r.tokens.begin() + int64_t(j) * r.T);
    std::copy(x.output.begin(), x.output.begin() + int64_t(o), r.tokens.begin() + int64_t(j) * r.T + int64_t(p));
    std::fill(r.mask.begin() + int64_t(j) * r.T + int64_t(p), r.mask.begin() + int64_t(j) * r.T + int64_t(p + o), 1);
  }
  return r;
}

std::vector<double> GrpoStep::token_logp(const TokenRows& rows, const ModelWeights* w) {
  LogProbRecorder rec(rows.B * rows.T);
  if (!w) {
    ref_.run(rows, rec);
    return rec.logp;
  }
  LossNorm norm;
  norm.add(rows, int64_t(w->mtp.size()));
  policy_.run(rows, *w, {0.0, 0.0, &rec}, norm, nullptr);
  return rec.logp;
}

json GrpoStep::operator()(int64_t step, const ModelWeights& w, std::vector<TokenRows>& batches,
                          std::vector<std::unique_ptr<HeadObjective>>& heads) {
  const int64_t G = opt_.grpo.group;
  // 1. G samples per prompt from π_θold (the step's weights), through the continuous batcher.
  std::vector<eval::GenJob> jobs;
  std::vector<size_t> item_of;
  for (const TokenRows& b : batches)
    for (int64_t i : b.seq_index)
      for (int64_t g = 0; g < G; ++g) {
        jobs.push_back({eval::encode_prompt(tok_, items_[size_t(i)].prompt, opt_.gen.chat, opt_.gen.start),
                        items_[size_t(i)].stop});
        item_of.push_back(size_t(i));
      }
  eval::GenOptions gen = opt_.gen;
  gen.sampling.seed = mix64(opt_.seed + uint64_t(step));
  const Model policy(cfg_, w);
  const std::vector<eval::GenOutput> outs = eval::generate_texts(policy, tok_, jobs, gen);

  // 2. Rewards, and advantages normalised within each group of G.
  std::vector<Sample> samples(jobs.size());
  std::vector<double> rewards(jobs.size()), by_reward(rewards_.size(), 0.0);
  for (size_t j = 0; j < jobs.size(); ++j) {
    samples[j].prompt = jobs[j].prompt;
    if (!outs[j].failure.empty()) fail("GRPO: item of line ", items_[item_of[j]].line, ": ", outs[j].failure);
    samples[j].output = outs[j].ids;
    for (size_t k = 0; k < rewards_.size(); ++k) {
      const double r = rewards_[k].reward->score(items_[item_of[j]], outs[j].text);
      by_reward[k] += r / double(jobs.size());
      rewards[j] += rewards_[k].weight * r;
    }
  }
  const std::vector<double> adv = group_advantages(rewards, G, opt_.grpo.std_eps);

  // 3. Each micro-batch's rows with their weights w_i = 1/(P·G·|o_i|), Â_i, ℓ_old, ℓ_ref.
  const double PG = double(jobs.size());
  double kl_sum = 0.0, tokens = 0.0;
  size_t s0 = 0;
  for (size_t bi = 0; bi < batches.size(); ++bi) {
    const size_t count = size_t(batches[bi].B * G);
    TokenRows rows = rows_of(samples, s0, count);
    GrpoRows g;
    g.logp_old = token_logp(rows, &w);
    g.logp_ref = token_logp(rows, nullptr);
    g.weight.assign(size_t(rows.B * rows.T), 0.0);
    g.adv.assign(size_t(rows.B * rows.T), 0.0);
    for (int64_t b = 0; b < rows.B; ++b) {
      int64_t len = 0;
      for (int64_t t = 1; t < rows.T; ++t) len += rows.mask[size_t(b * rows.T + t)];
      for (int64_t t = 1; t < rows.T; ++t) {
        if (!rows.mask[size_t(b * rows.T + t)]) continue;
        const size_t r = size_t(b * rows.T + t - 1);  // the row whose logits predict token t
        g.weight[r] = 1.0 / (PG * double(len));
        g.adv[r] = adv[s0 + size_t(b)];
        const double d = g.logp_ref[r] - g.logp_old[r];
        kl_sum += std::exp(d) - d - 1.0;
        tokens += 1.0;
      }
    }
    heads[bi] = std::make_unique<GrpoObjective>(std::move(g), opt_.grpo);
    batches[bi] = std::move(rows);
    s0 += count;
  }

  double mean = 0.0;
  int64_t flat = 0;  // groups whose rewards are all equal: Â = 0, no learning signal
  for (double r : rewards) mean += r / PG;
  for (size_t g0 = 0; g0 < rewards.size(); g0 += size_t(G))
    flat += std::all_of(rewards.begin() + int64_t(g0), rewards.begin() + int64_t(g0) + G,
                        [&](double r) { return r == rewards[g0]; });
  json m = {{"reward", mean},
            {"kl", tokens > 0 ? kl_sum / tokens : 0.0},
            {"output_tokens", tokens / PG},
            {"flat_groups", double(flat) / (PG / double(G))}};
  if (rewards_.size() > 1)
    for (size_t k = 0; k < rewards_.size(); ++k) m["reward_" + rewards_[k].reward->name()] = by_reward[k];
  return m;
}

}  // namespace dsv3::posttrain
