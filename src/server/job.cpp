#include "server/job.h"

#include <random>

namespace dsv3::server {

Job::Job(const CompletionRequest& req, std::vector<int32_t> prompt, const TextCodec& codec,
         std::function<bool(int32_t)> is_eos, ChatOutput output, OutputConstraint constraint)
    : req_(req),
      prompt_(std::move(prompt)),
      codec_(codec),
      output_(std::move(output)),
      constraint_(std::move(constraint)),
      is_eos_(std::move(is_eos)) {
  for (int64_t i = 0; i < req_.n; ++i) {
    Choice c{codec_.stream(output_.tool_calls), StopMatcher(req_.stop), nullptr, nullptr, 0, false};
    if (output_.reasoning) c.reasoning = std::make_unique<ReasoningParser>(output_.reasoning_prefilled);
    if (output_.tool_calls) c.tools = std::make_unique<ToolCallParser>(req_.stream, output_.prefill);
    choices_.push_back(std::move(c));
  }
}

void Job::route(Choice& c, const std::string& text, bool at_end, ChoiceEvent& e) {
  ReasoningSplit r{"", text};
  if (c.reasoning) {
    r = c.reasoning->push(text);
    if (at_end) {
      ReasoningSplit rest = c.reasoning->finish();
      r.reasoning += rest.reasoning;
      r.content += rest.content;
    }
  }
  e.reasoning += r.reasoning;
  if (!c.tools) {
    e.text += r.content;
    return;
  }
  ToolParse t = c.tools->push(r.content);
  if (at_end) {
    ToolParse rest = c.tools->finish();
    t.content += rest.content;
    for (auto& d : rest.calls) t.calls.push_back(std::move(d));
  }
  e.text += t.content;
  for (auto& d : t.calls) e.tool_calls.push_back(std::move(d));
}

std::vector<SequenceRequest> Job::sequence_requests() {
  std::vector<SequenceRequest> out;
  std::random_device rd;
  for (int64_t i = 0; i < req_.n; ++i) {
    SequenceRequest r;
    r.prompt = prompt_;
    r.max_new_tokens = req_.max_tokens;
    r.sampling = req_.sampling;
    // With a seed, choice i is reproducible on its own; without one, each draw is fresh.
    r.sampling.seed = req_.has_seed ? req_.sampling.seed + uint64_t(i) : (uint64_t(rd()) << 32) ^ rd();
    r.stop_at_eos = !req_.ignore_eos;
    r.logprobs = req_.logprobs;
    if (!constraint_.tool_calls.empty())
      r.constraint = std::make_shared<ToolCallConstraint>(constraint_.tool_calls, constraint_.trie, constraint_.then);
    else if (constraint_.grammar)
      r.constraint = std::make_shared<JsonConstraint>(constraint_.grammar, constraint_.trie, constraint_.then);
    r.on_token = [this, i](const TokenEvent& ev) { return on_token(i, ev); };
    r.on_finish = [this, i](FinishReason why, const SequenceStats& st) { on_finish(i, why, st); };
    out.push_back(std::move(r));
  }
  return out;
}

bool Job::on_token(int64_t i, const TokenEvent& ev) {
  Choice& c = choices_[size_t(i)];
  ++c.tokens;
  ChoiceEvent e;
  e.index = i;
  e.tokens = {ev.token};
  // The end-of-sequence token ends the text; it is not part of it.
  const std::string piece = is_eos_(ev.token) && !req_.ignore_eos ? "" : c.decoder->push(ev.token);
  route(c, c.stop.push(piece), false, e);
  if (req_.logprobs >= 0) {
    LogprobEntry l{codec_.token_text(ev.token), ev.logprobs.logprob, {}};
    for (const auto& [t, lp] : ev.logprobs.top) l.top.emplace_back(codec_.token_text(t), lp);
    e.logprobs.push_back(std::move(l));
  }
  push(std::move(e));
  return !c.stop.stopped() && !cancelled_;
}

void Job::on_finish(int64_t i, FinishReason why, const SequenceStats& st) {
  Choice& c = choices_[size_t(i)];
  ChoiceEvent e;
  e.index = i;
  e.finish = why;
  if (why != FinishReason::kCancelled) {
    std::string rest;
    if (!c.stop.stopped()) {
      rest = c.stop.push(c.decoder->flush());
      rest += c.stop.flush();
    }
    route(c, rest, true, e);
  }
  if (c.stop.stopped()) e.finish = FinishReason::kStop;
  e.called_tools = c.tools && c.tools->called() && e.finish == FinishReason::kStop;
  std::lock_guard<std::mutex> lk(mu_);
  c.done = true;
  ++done_;
  stats_.prompt_tokens = st.prompt_tokens;
  stats_.generated_tokens += st.generated_tokens;
  stats_.drafted += st.drafted;
  stats_.accepted += st.accepted;
  events_.push_back(std::move(e));
  cv_.notify_all();
}

void Job::push(ChoiceEvent ev) {
  std::lock_guard<std::mutex> lk(mu_);
  events_.push_back(std::move(ev));
  cv_.notify_all();
}

bool Job::next(std::vector<ChoiceEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return !events_.empty() || done_ == req_.n || !error_.empty(); });
  while (!events_.empty()) {
    out.push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return !(done_ == req_.n || !error_.empty()) || !out.empty();
}

bool Job::finished() const {
  std::lock_guard<std::mutex> lk(mu_);
  return done_ == req_.n || !error_.empty();
}

void Job::fail(const std::string& message) {
  std::lock_guard<std::mutex> lk(mu_);
  error_ = message;
  cv_.notify_all();
}

std::string Job::error() const {
  std::lock_guard<std::mutex> lk(mu_);
  return error_;
}

int64_t Job::completion_tokens() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_.generated_tokens;
}

SequenceStats Job::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}

}  // namespace dsv3::server
