// /v1/completions with "echo": true: the prompt is returned before the completion, and with
// "logprobs" each prompt token's log-probability under the model, in OpenAI's legacy shape
// (choices[].logprobs.tokens / token_logprobs / top_logprobs / text_offset, the first prompt
// token's entries null since nothing precedes it). With "max_tokens": 0 nothing is generated.
// This is what lm-evaluation-harness's completions backend asks for log-likelihood tasks
// (echo, logprobs 1, max_tokens 1: it sums token_logprobs[ctxlen:-1]).
//
// The prompt is scored on the HTTP thread by src/eval's scorer (one full-sequence forward from
// an empty cache, logits a few rows at a time), one echo at a time; the scheduler thread keeps
// stepping the Batcher meanwhile (the model is read-only and every forward has its own cache).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"
#include "server/job.h"
#include "server/text_codec.h"

namespace dsv3::server {

struct ResponseMeta;

struct EchoedPrompt {
  std::string text;                   // the prompt as the codec writes its tokens
  std::vector<size_t> offsets;        // per prompt token: where its text starts in `text`
  std::vector<LogprobEntry> logprobs; // per prompt token from the second on (empty without logprobs)
  std::string first_token;            // the first token's text (its logprob is null)
  bool with_logprobs = false;
};

// top < 0: text only (the request did not ask for logprobs).
EchoedPrompt echo_prompt(const Model& m, const TextCodec& codec, const std::vector<int32_t>& prompt, int64_t top);

// The logprobs object of the prompt alone, legacy completions shape.
json echo_logprobs_json(const EchoedPrompt& e);

// A whole response for max_tokens 0: n choices that are the prompt, finish_reason "length".
json echo_only_response(const ResponseMeta& m, const EchoedPrompt& e, int64_t n, int64_t prompt_tokens);

// Puts the prompt before each choice of a whole completions response: text, and the logprobs
// arrays (the completion's text_offset shifted by the prompt's length).
void prepend_echo(json& response, const EchoedPrompt& e);

}  // namespace dsv3::server
