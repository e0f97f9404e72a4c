#include "server/tool_call_parser.h"

#include "infer/stop_strings.h"
#include "io/json_file.h"
#include "tokenizer/chat_template_tools.h"

namespace dsv3::server {

namespace dt = deepseek_tools;

namespace {

const std::string kHeaderStart = "function" + dt::kSep;
const std::string kArgsEnd = dt::kArgsClose + dt::kCallEnd;

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
// s is a (proper or whole) prefix of p: more text could still make it p.
bool prefix_of(const std::string& s, const std::string& p) { return s.size() <= p.size() && p.compare(0, s.size(), s) == 0; }

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

}  // namespace

ToolCallParser::ToolCallParser(bool stream, const std::string& prefilled) : stream_(stream) {
  if (!prefilled.empty()) first_ = push(prefilled);
}

std::string ToolCallParser::new_call_id() {
  static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlnum[rng_() % 62];
  return id;
}

ToolParse ToolCallParser::push(const std::string& text) {
  ToolParse out = std::move(first_);
  first_ = {};
  buf_ += text;
  while (step(out, false)) {
  }
  return out;
}

ToolParse ToolCallParser::finish() {
  ToolParse out = std::move(first_);
  first_ = {};
  while (step(out, true)) {
  }
  // Whatever is left unparsed ends the output: a span cut off mid-call is malformed; a span
  // whose last call was complete (kCallOrEnd) ends here.
  if (state_ == State::kCallOrEnd && buf_.empty() && (called_ || !held_.empty())) end_span(out);
  else if (state_ != State::kText && state_ != State::kAfter) malformed(out);
  out.content += buf_;
  buf_.clear();
  return out;
}

void ToolCallParser::consume(size_t n) {
  raw_ += buf_.substr(0, n);
  buf_.erase(0, n);
}

void ToolCallParser::emit(ToolParse& out, ToolCallDelta d) {
  if (stream_) {
    out.calls.push_back(std::move(d));
    raw_.clear();
    called_ = true;
  } else if (!d.name.empty()) {
    held_.push_back(std::move(d));
  } else {
    held_.back().arguments += d.arguments;
  }
}

void ToolCallParser::malformed(ToolParse& out) {
  out.content += raw_ + buf_;
  raw_.clear();
  buf_.clear();
  held_.clear();
  state_ = State::kAfter;
}

void ToolCallParser::end_span(ToolParse& out) {
  if (!stream_) {
    for (const auto& c : held_)
      if (!json::accept(c.arguments)) return malformed(out);
    for (auto& c : held_) out.calls.push_back(std::move(c));
    called_ = called_ || !held_.empty();
    held_.clear();
  }
  raw_.clear();
  state_ = State::kAfter;
}

bool ToolCallParser::step(ToolParse& out, bool at_end) {
  switch (state_) {
    case State::kText: {
      const size_t at = buf_.find(dt::kCallsBegin);
      if (at == std::string::npos) {
        const size_t hold = at_end ? 0 : partial_marker_length(buf_, {dt::kCallsBegin});
        out.content += buf_.substr(0, buf_.size() - hold);
        buf_.erase(0, buf_.size() - hold);
        return false;
      }
      out.content += buf_.substr(0, at);
      buf_.erase(0, at);
      consume(dt::kCallsBegin.size());
      state_ = State::kCallOrEnd;
      return true;
    }
    case State::kCallOrEnd: {
      // The first call follows the opening at once; later ones after a newline.
      const std::string next = (index_ == 0 ? "" : "\n") + dt::kCallBegin;
      if (starts_with(buf_, next)) {
        consume(next.size());
        state_ = State::kHeader;
        return true;
      }
      if (index_ > 0 && starts_with(buf_, dt::kCallsEnd)) {
        consume(dt::kCallsEnd.size());
        end_span(out);
        return true;
      }
      if (!at_end && (prefix_of(buf_, next) || (index_ > 0 && prefix_of(buf_, dt::kCallsEnd)))) return false;
      if (!buf_.empty()) malformed(out);
      return false;
    }
    case State::kHeader: {
      const size_t nl = buf_.find(dt::kArgsOpen);
      if (nl == std::string::npos) {
        // The name is short: a header that runs on without its newline is not one.
        if (buf_.size() > kHeaderStart.size() + 64 + dt::kArgsOpen.size() ||
            !(prefix_of(buf_, kHeaderStart) || starts_with(buf_, kHeaderStart)))
          malformed(out);
        return false;
      }
      const std::string name = starts_with(buf_, kHeaderStart) ? buf_.substr(kHeaderStart.size(), nl - kHeaderStart.size()) : "";
      if (!valid_name(name)) {
        malformed(out);
        return false;
      }
      consume(nl + dt::kArgsOpen.size());
      emit(out, {index_, new_call_id(), name, ""});
      state_ = State::kArguments;
      return true;
    }
    case State::kArguments: {
      const size_t at = buf_.find(kArgsEnd);
      const size_t n = at != std::string::npos ? at : buf_.size() - partial_marker_length(buf_, {kArgsEnd});
      if (n > 0) {
        const std::string piece = buf_.substr(0, n);
        consume(n);
        emit(out, {index_, "", "", piece});
      }
      if (at == std::string::npos) return false;
      consume(kArgsEnd.size());
      ++index_;
      state_ = State::kCallOrEnd;
      return true;
    }
    case State::kAfter:
      out.content += buf_;
      buf_.clear();
      return false;
  }
  return false;
}

}  // namespace dsv3::server
