// Passkey retrieval (Mohtashami & Jaggi 2023, "Landmark Attention"), the needle-in-a-haystack
// test of long contexts: a random number is hidden at a chosen depth of filler text of a chosen
// length, and the model is asked for it at the end. Every (length, depth) cell of the grid is
// tried with several keys; a trial passes when the first number the model writes is the key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "eval/gen.h"
#include "eval/report.h"

namespace dsv3::eval {

struct PasskeyOptions {
  std::vector<int64_t> lengths = {256, 512, 1024};  // prompt lengths in tokens
  std::vector<double> depths = {0.0, 0.25, 0.5, 0.75, 1.0};  // where the key sits in the filler
  int64_t trials = 5;         // keys per cell
  uint64_t seed = 1;          // of the keys
  std::string filler;         // haystack text, repeated as needed (empty: kDefaultFiller)
};

extern const char* kDefaultFiller;

// The prompt of exactly `length` tokens: instructions, filler with the needle (which states
// `key` twice) at `depth` of the filler, the question. Throws Error when length leaves no room.
std::vector<int32_t> passkey_prompt(const Tokenizer& tok, int64_t length, double depth, const std::string& key,
                                    const std::string& filler, PromptStart start = PromptStart::kBos);

struct PasskeyCell {
  int64_t length = 0;
  double depth = 0;
  int64_t n = 0, correct = 0;
};

// How many of the key's digits the answer's first number has at the same places ("12045" for
// "12345": 4): partial credit that shows a model learning to copy before it copies whole keys.
int64_t key_digits_matched(const std::string& key, const std::string& got);

// Teacher-forced retrieval, per answer token: with each prompt followed by its answer's tokens
// (" 12345": the space, then the digits), whether answer token i is the model's argmax after
// the prompt and answer tokens 0..i-1. Returns hits[i]; tried[i] counts the prompts with an
// i-th token (prompts over the context are left out). Unlike the generated answer, one wrong
// token does not spoil the rest, so it tells a model that cannot begin the key (token 0-1
// wrong, the rest right) from one that cannot go on.
std::vector<int64_t> forced_key_hits(const Model& m, const std::vector<std::vector<int32_t>>& prompts,
                                     const std::vector<std::vector<int32_t>>& answers, std::vector<int64_t>* tried);

// Runs the grid through generate_texts (greedy unless gen.sampling says otherwise). Metrics:
// "passkey" (whole keys), "key_digits" (digits matched in place over all keys' digits) and
// "key_tokens" (forced_key_hits over all answer tokens; detail "key_tokens_by_position"). The
// last two's Wilson intervals treat digits as independent, which they are not, so are too narrow.
Report run_passkey(const Model& m, const Tokenizer& tok, const PasskeyOptions& opt, GenOptions gen,
                   std::vector<PasskeyCell>* cells = nullptr);

}  // namespace dsv3::eval
