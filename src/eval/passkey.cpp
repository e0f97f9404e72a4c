#include "eval/passkey.h"

#include <cmath>
#include <cstdio>
#include <random>

#include "core/error.h"
#include "eval/prompt.h"
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
  r.detail["grid"] = grid;
  r.detail_markdown = cell_markdown(opt, cells);
  if (cells_out) *cells_out = cells;
  return r;
}

}  // namespace dsv3::eval
