#include "io/json_file.h"
#include "server/echo.h"

#include <mutex>

#include "eval/score.h"
#include "infer/sampler.h"
#include "server/responses.h"

namespace dsv3::server {

EchoedPrompt echo_prompt(const Model& m, const TextCodec& codec, const std::vector<int32_t>& prompt, int64_t top) {
  EchoedPrompt e;
  const std::unique_ptr<TextStream> text = codec.stream();
  for (int32_t t : prompt) {
    e.offsets.push_back(e.text.size());  // special tokens add no text, so their successor starts here too
    e.text += text->push(t);
  }
  e.text += text->flush();
  if (top < 0 || prompt.empty()) return e;
  e.with_logprobs = true;
  e.first_token = codec.token_text(prompt[0]);
  // One echo forward at a time: concurrent ones would only contend for the same cores.
  static std::mutex one_at_a_time;
  std::lock_guard<std::mutex> lk(one_at_a_time);
  const int64_t V = m.config().vocab_size;
  eval::ScoreRequest r{prompt, 0, int64_t(prompt.size()) - 1};
  eval::score_sequences(m, {r}, [&](int64_t, int64_t pos, const float* lp) {
    const TokenLogprobs t = token_logprobs(lp, V, prompt[size_t(pos + 1)], top);
    LogprobEntry l{codec.token_text(prompt[size_t(pos + 1)]), t.logprob, {}};
    for (const auto& [id, v] : t.top) l.top.emplace_back(codec.token_text(id), v);
    e.logprobs.push_back(std::move(l));
  });
  return e;
}

json echo_logprobs_json(const EchoedPrompt& e) {
  json tokens = json::array({e.first_token}), lp = json::array({nullptr}), top = json::array({nullptr}),
       off = json::array();
  for (const LogprobEntry& l : e.logprobs) {
    tokens.push_back(l.token);
    lp.push_back(l.logprob);
    json t = json::object();
    for (const auto& [tok, v] : l.top) t[tok] = v;
    top.push_back(t);
  }
  for (size_t o : e.offsets) off.push_back(o);
  return {{"tokens", tokens}, {"token_logprobs", lp}, {"top_logprobs", top}, {"text_offset", off}};
}

json echo_only_response(const ResponseMeta& m, const EchoedPrompt& e, int64_t n, int64_t prompt_tokens) {
  json cs = json::array();
  for (int64_t i = 0; i < n; ++i)
    cs.push_back({{"index", i}, {"text", e.text}, {"finish_reason", "length"}, {"token_ids", json::array()},
                  {"logprobs", e.with_logprobs ? echo_logprobs_json(e) : json(nullptr)}});
  return {{"id", m.id}, {"object", "text_completion"}, {"created", m.created}, {"model", m.model},
          {"choices", cs}, {"usage", usage_json(prompt_tokens, 0)}};
}

void prepend_echo(json& response, const EchoedPrompt& e) {
  for (json& c : response["choices"]) {
    c["text"] = e.text + c.value("text", std::string());
    if (!e.with_logprobs || !c.contains("logprobs") || !c["logprobs"].is_object()) continue;
    json p = echo_logprobs_json(e);
    const json& gen = c["logprobs"];
    const size_t shift = e.text.size();  // the completion's offsets count from its own start
    for (const char* k : {"tokens", "token_logprobs", "top_logprobs"})
      for (const json& x : gen[k]) p[k].push_back(x);
    for (const json& x : gen["text_offset"]) p["text_offset"].push_back(x.get<size_t>() + shift);
    c["logprobs"] = p;
  }
}

}  // namespace dsv3::server
