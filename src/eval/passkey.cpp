#include "eval/passkey.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/error.h"
#include "eval/prompt.h"
#include "eval/score.h"
#include "io/json_file.h"

namespace dsv3::eval {

const char* kDefaultFiller = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ";

namespace {

const char* kIntro =
    "There is an important piece of information hidden inside a lot of irrelevant text. Find it and memorize it. "
    "I will quiz you about it.\n";

std::string key_for(std::mt19937_64& gen) { return std::to_string(10000 + gen() % 90000); }

std::string cell_markdown(const PasskeyOptions& opt, const std::vector<PasskeyCell>& cells) {
  std::string s = "| length \\ depth |";
  for (double d : opt.depths) s += cat(" ", d, " |");
  s += "\n|---|";
  for (size_t i = 0; i < opt.depths.size(); ++i) s += "---|";
  s += "\n";
  for (size_t l = 0; l < opt.lengths.size(); ++l) {
    s += cat("| ", opt.lengths[l], " |");
    for (size_t d = 0; d < opt.depths.size(); ++d) {
      const PasskeyCell& c = cells[l * opt.depths.size() + d];
      s += cat(" ", c.correct, "/", c.n, " |");
    }
    s += "\n";
  }
  return s;
}

}  // namespace

std::vector<int64_t> forced_key_hits(const Model& m, const std::vector<std::vector<int32_t>>& prompts,
                                     const std::vector<std::vector<int32_t>>& answers, std::vector<int64_t>* tried) {
  const int64_t ctx = m.config().max_position_embeddings, V = m.config().vocab_size;
  std::vector<ScoreRequest> requests;
  size_t longest = 0;
  for (size_t j = 0; j < prompts.size(); ++j) {
    if (prompts[j].empty() || int64_t(prompts[j].size() + answers[j].size()) > ctx) continue;  // gen reports it
    ScoreRequest r;
    r.tokens = prompts[j];
    r.tokens.insert(r.tokens.end(), answers[j].begin(), answers[j].end());
    r.first = int64_t(prompts[j].size()) - 1;  // row p scores token p + 1: the answer's first
    r.end = r.first + int64_t(answers[j].size());
    requests.push_back(std::move(r));
    longest = std::max(longest, answers[j].size());
  }
  std::vector<int64_t> hits(longest, 0);
  tried->assign(longest, 0);
  score_sequences(m, requests, [&](int64_t r, int64_t pos, const float* lp) {
    const size_t i = size_t(pos - requests[size_t(r)].first);  // which answer token
    const int32_t want = requests[size_t(r)].tokens[size_t(pos + 1)];
    (*tried)[i] += 1;
    hits[i] += lp[want] >= *std::max_element(lp, lp + V);  // ties count, as score_continuations' greedy
  });
  return hits;
}

std::vector<int32_t> passkey_prompt(const Tokenizer& tok, int64_t length, double depth, const std::string& key,
                                    const std::string& filler_text, PromptStart start) {
  if (!(depth >= 0.0 && depth <= 1.0)) fail("passkey depth ", depth, " is outside [0, 1]");
  std::vector<int32_t> out = encode_prompt(tok, kIntro, false, start);
  const std::vector<int32_t> needle = tok.encode(cat(" The pass key is ", key, ". Remember it. ", key, " is the pass key. "));
  const std::vector<int32_t> question = tok.encode("\nWhat is the pass key? The pass key is");
  const std::vector<int32_t> filler = tok.encode(filler_text.empty() ? kDefaultFiller : filler_text);
  if (filler.empty()) fail("the passkey filler text encodes to no tokens");
  const int64_t room = length - int64_t(out.size() + needle.size() + question.size());
  if (room < 0) fail("passkey length ", length, " is too short: instructions, key and question take ", length - room, " tokens");
  const int64_t at = std::llround(depth * double(room));
  for (int64_t i = 0; i < room; ++i) {
    if (i == at) out.insert(out.end(), needle.begin(), needle.end());
    out.push_back(filler[size_t(i) % filler.size()]);
  }
  if (at == room) out.insert(out.end(), needle.begin(), needle.end());
  out.insert(out.end(), question.begin(), question.end());
  return out;
}

int64_t key_digits_matched(const std::string& key, const std::string& got) {
  int64_t n = 0;
  for (size_t i = 0; i < key.size() && i < got.size(); ++i) n += key[i] == got[i];
  return n;
}

Report run_passkey(const Model& m, const Tokenizer& tok, const PasskeyOptions& opt, GenOptions gen,
                   std::vector<PasskeyCell>* cells_out) {
  if (opt.lengths.empty() || opt.depths.empty() || opt.trials < 1) fail("passkey needs lengths, depths and trials >= 1");
  std::mt19937_64 keys(opt.seed);
  std::vector<GenJob> jobs;
  std::vector<std::string> answers;
  std::vector<PasskeyCell> cells;
  for (int64_t L : opt.lengths)
    for (double d : opt.depths) {
      cells.push_back({L, d, opt.trials, 0});
      for (int64_t t = 0; t < opt.trials; ++t) {
        answers.push_back(key_for(keys));
        jobs.push_back({passkey_prompt(tok, L, d, answers.back(), opt.filler, gen.start), {}});
      }
    }
  gen.max_new_tokens = 8;  // " 12345." and a little more
  const std::vector<GenOutput> outs = generate_texts(m, tok, jobs, gen);
  std::vector<std::vector<int32_t>> prompts, key_tokens;
  for (size_t j = 0; j < jobs.size(); ++j) {
    prompts.push_back(jobs[j].prompt);
    key_tokens.push_back(tok.encode(cat(" ", answers[j])));
  }
  std::vector<int64_t> forced_n;
  const std::vector<int64_t> forced = forced_key_hits(m, prompts, key_tokens, &forced_n);
  const Extractor first_number("regex:[0-9]+");
  Report r;
  r.task = "passkey";
  r.kind = "passkey";
  int64_t correct = 0, digits = 0, digits_total = 0;
  json grid = json::array();
  for (size_t c = 0; c < cells.size(); ++c) {
    for (int64_t t = 0; t < opt.trials; ++t) {
      const size_t j = c * size_t(opt.trials) + size_t(t);
      if (!outs[j].failure.empty()) {
        r.failures.push_back({0, cat("length ", cells[c].length, ": ", outs[j].failure)});
        continue;
      }
      const auto got = first_number.extract(outs[j].text);
      cells[c].correct += got && *got == answers[j];
      digits += got ? key_digits_matched(answers[j], *got) : 0;
    }
    correct += cells[c].correct;
    grid.push_back({{"length", cells[c].length}, {"depth", cells[c].depth}, {"n", cells[c].n},
                    {"correct", cells[c].correct}, {"accuracy", double(cells[c].correct) / double(cells[c].n)}});
  }
  for (const std::string& key : answers) digits_total += int64_t(key.size());
  r.metrics.push_back(proportion_metric("passkey", correct, int64_t(jobs.size())));
  r.metrics.push_back(proportion_metric("key_digits", digits, digits_total));
  int64_t forced_hits = 0, forced_total = 0;
  json by_token = json::array();
  for (size_t i = 0; i < forced.size(); ++i) {
    forced_hits += forced[i];
    forced_total += forced_n[i];
    by_token.push_back({{"token", i}, {"n", forced_n[i]}, {"argmax", forced[i]}});
  }
  r.metrics.push_back(proportion_metric("key_tokens", forced_hits, forced_total));
  r.detail["key_tokens_by_position"] = by_token;
  std::string forced_line = "\nkey_tokens by answer token (argmax after the prompt and the answer's tokens before it):";
  for (size_t i = 0; i < forced.size(); ++i) forced_line += cat(" ", i, ": ", forced[i], "/", forced_n[i]);
  r.detail["grid"] = grid;
  r.detail_markdown = cell_markdown(opt, cells) + forced_line + "\n";
  if (cells_out) *cells_out = cells;
  return r;
}

}  // namespace dsv3::eval
