// How eval turns a task's text into the tokens the model sees.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace dsv3::eval {

// What a prompt starts with: BOS as tokenizer_config.json asks (lm-evaluation-harness's
// default), EOS (the separator of a corpus packed for pre-training without BOS, as dsv3 train
// packs one: what a model trained so has always seen before a document), or nothing.
enum class PromptStart { kBos, kEos, kNone };
PromptStart parse_prompt_start(const std::string& s);  // bos, eos, none

// The start token, then the text; never EOS at the end, since the model continues it. With
// `chat`, the text is one user message rendered by the chat template with the generation
// prompt (the template writes BOS itself, so `start` does not apply).
std::vector<int32_t> encode_prompt(const Tokenizer& tok, const std::string& text, bool chat = false,
                                   PromptStart start = PromptStart::kBos);

}  // namespace dsv3::eval
