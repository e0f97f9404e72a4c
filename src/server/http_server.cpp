#include "io/json_file.h"
#include "server/http_server.h"

#include <httplib.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "core/error.h"
#include "server/api_error.h"
#include "server/echo.h"
#include "server/chat_prompt.h"
#include "tokenizer/chat_template_tools.h"
#include "server/responses.h"

namespace dsv3::server {

namespace {

using namespace std::chrono_literals;

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(dump(e.body()), "application/json");
}

// Endpoint label of the request metrics: the route, never the raw path (bounded cardinality).
std::string endpoint_label(const std::string& path) {
  for (const char* p : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"})
    if (path.rfind(p, 0) == 0) return p;
  return "other";
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

std::string error_message(int status, const httplib::Request& req, int64_t max_body) {
  switch (status) {
    case 400: return "malformed HTTP request";
    case 404: return cat("no route for ", req.method, " ", req.path);
    case 405: return cat("method ", req.method, " is not allowed on ", req.path);
    case 413: return cat("the request body exceeds ", max_body, " bytes");
    case 414: return "the request URI is too long";
    default: return cat("HTTP error ", status);
  }
}

}  // namespace

HttpServer::HttpServer(const Model& model, const TextCodec& codec, ServerOptions opt)
    : model_(model), codec_(codec), opt_(std::move(opt)), http_(std::make_unique<httplib::Server>()) {
  scheduler_ = std::make_unique<Scheduler>(model_, opt_.scheduler, metrics_);
  opt_.limits.context_length = scheduler_->context_length();
  opt_.limits.vocab_size = model_.config().vocab_size;
  opt_.limits.max_n = std::min(opt_.limits.max_n, opt_.scheduler.max_sequences);
  // Each streaming request holds a worker thread for its whole life, as do idle keep-alive
  // connections; a request that finds none free waits in httplib's queue.
  const int threads = opt_.http_threads > 0
                          ? opt_.http_threads
                          : int(2 * (opt_.scheduler.max_sequences + opt_.scheduler.max_queue) + 8);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  http_->set_payload_max_length(size_t(opt_.max_body_bytes));
  http_->set_keep_alive_timeout(5);
  const auto read_us = int64_t(opt_.read_timeout_s * 1e6);
  http_->set_read_timeout(time_t(read_us / 1000000), time_t(read_us % 1000000));
  routes();
}

HttpServer::~HttpServer() {
  if (scheduler_) scheduler_->stop();
}

void HttpServer::bind() {
  port_ = opt_.port == 0 ? http_->bind_to_any_port(opt_.host) : (http_->bind_to_port(opt_.host, opt_.port) ? opt_.port : -1);
  if (port_ <= 0) fail("cannot listen on ", opt_.host, ":", opt_.port, " (address in use or not local?)");
}

void HttpServer::run() {
  http_->listen_after_bind();  // returns after stop(), once the worker threads are done
  scheduler_->stop();
}

void HttpServer::shutdown(double grace_seconds) {
  draining_ = true;
  const auto wait_idle = [this](double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
  };
  wait_idle(grace_seconds);
  if (in_flight_ > 0) {
    scheduler_->stop();  // cancels what is left; the responses end with an error event
    wait_idle(5.0);
  }
  http_->stop();
}

bool HttpServer::known_model(const std::string& name) const {
  if (name == opt_.model_name) return true;
  for (const auto& a : opt_.model_aliases)
    if (name == a) return true;
  return false;
}

void HttpServer::routes() {
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (opt_.api_key.empty() || req.path.rfind("/v1/", 0) != 0) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0 && constant_time_equal(auth.substr(7), opt_.api_key))
      return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401, "invalid or missing API key (send Authorization: Bearer <key>)", "", "invalid_api_key"));
    res.set_header("WWW-Authenticate", "Bearer");
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty()) send_error(res, ApiError(res.status, error_message(res.status, req, opt_.max_body_bytes)));
  });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, what));
  });
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_.count_request(endpoint_label(req.path), res.status);
  });

  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (draining_) return send_error(res, ApiError(503, "shutting down"));
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4");
  });
  const auto model_json = [this] {
    return json{{"id", opt_.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "dsv3"},
                {"max_model_len", opt_.limits.context_length}};
  };
  http_->Get("/v1/models", [model_json](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump(json{{"object", "list"}, {"data", json::array({model_json()})}}), "application/json");
  });
  http_->Get(R"(/v1/models/(.+))", [this, model_json](const httplib::Request& req, httplib::Response& res) {
    if (!known_model(req.matches[1])) return send_error(res, ApiError(404, cat("The model '", std::string(req.matches[1]), "' does not exist"), "model", "model_not_found"));
    res.set_content(dump(model_json()), "application/json");
  });
  http_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { handle_completion(req, res, false); });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { handle_completion(req, res, true); });
}

void HttpServer::handle_completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  try {
    json body;
    try {
      body = json::parse(req.body);
    } catch (const json::exception& e) {
      throw ApiError(400, cat("the request body is not valid JSON: ", e.what()));
    }
    CompletionRequest r = parse_completion_request(body, chat, opt_.limits);
    if (!known_model(r.model))
      throw ApiError(404, cat("The model '", r.model, "' does not exist; this server serves '", opt_.model_name, "'"),
                     "model", "model_not_found");
    std::vector<int32_t> prompt;
    ChatOutput output;
    try {
      if (chat) {
        const ChatPrompt p = chat_prompt(r);
        const std::string text = codec_.render_chat(p.messages) + p.prefill;
        prompt = codec_.encode_rendered(text);
        output = chat_output(r, p, text, opt_.split_reasoning);
      } else {
        prompt = r.prompt_is_tokens ? r.prompt_tokens : codec_.encode(r.prompt_text);
      }
    } catch (const Error& e) {
      throw ApiError(400, e.what(), chat ? "messages" : "prompt");
    }
    if (prompt.empty()) throw ApiError(400, "the prompt encodes to no tokens", chat ? "messages" : "prompt");
    check_context(r, int64_t(prompt.size()), opt_.limits);
    if (draining_) throw ApiError(503, "the server is shutting down");
    if (r.echo && r.max_tokens == 0) {
      const ResponseMeta meta{cat("cmpl-", std::hex, std::time(nullptr), "-", next_id_++), opt_.model_name,
                              int64_t(std::time(nullptr)), false, nullptr};
      return res.set_content(dump(echo_only_response(meta, echo_prompt(model_, codec_, prompt, r.logprobs), r.n,
                                                     int64_t(prompt.size()))), "application/json");
    }
    std::shared_ptr<const EchoedPrompt> echo;
    if (r.echo) echo = std::make_shared<EchoedPrompt>(echo_prompt(model_, codec_, prompt, r.logprobs));
    const ModelConfig& cfg = model_.config();
    auto job = std::make_shared<Job>(r, std::move(prompt), codec_, [&cfg](int32_t t) { return cfg.is_eos(t); },
                                     std::move(output), output_constraint(r));
    if (!scheduler_->submit(job)) {
      ++metrics_.rejected_queue_full;
      res.set_header("Retry-After", "1");
      throw ApiError(429, "too many requests are waiting; retry later", "", "queue_full");
    }
    metrics_.prompt_tokens += job->prompt_tokens();
    ++in_flight_;
    const ResponseMeta meta{cat(chat ? "chatcmpl-" : "cmpl-", std::hex, std::time(nullptr), "-", next_id_++), opt_.model_name,
                            int64_t(std::time(nullptr)), chat, echo};
    if (r.stream) respond_stream(res, job, meta);
    else respond_whole(res, job, meta);
  } catch (const ApiError& e) {
    send_error(res, e);
  }
}

// A forced tool call's arguments follow its parameters schema, and then the span closes (with
// several functions to choose from, one's name and its arguments' opening come first); a
// response_format's JSON is followed by the end of the sequence.
OutputConstraint HttpServer::output_constraint(const CompletionRequest& r) const {
  namespace dt = deepseek_tools;
  OutputConstraint c;
  const ModelConfig& cfg = model_.config();
  const int32_t eos = cfg.eos_token_ids.empty() ? 0 : int32_t(cfg.eos_token_ids[0]);
  const bool tool_call = r.tool_grammar || !r.tool_grammars.empty();
  if (tool_call) {
    c.grammar = r.tool_grammar;
    for (size_t i = 0; i < r.tool_grammars.size(); ++i)
      c.tool_calls.push_back({r.tools[i]["name"].get<std::string>() + dt::kArgsOpen, r.tool_grammars[i]});
    c.then = codec_.encode_rendered(dt::kArgsClose + dt::kCallEnd + dt::kCallsEnd);
    c.then.push_back(eos);
  } else if (r.response_grammar) {
    c.grammar = r.response_grammar;
    c.then = {eos};
  }
  if (!c.any()) return c;
  c.trie = codec_.token_trie();
  if (!c.trie) throw ApiError(400, "constrained output (response_format, tool_choice) needs a model with a tokenizer",
                              tool_call ? "tool_choice" : "response_format");
  return c;
}

bool HttpServer::write_or_cancel(httplib::DataSink& sink, const std::string& out, const std::shared_ptr<Job>& job) {
  if (sink.write(out.data(), out.size())) return true;
  scheduler_->cancel(job);  // the client went away: free its sequence now
  return false;
}

// httplib calls this when a response ends, written or not: an unfinished job is cancelled, and
// the admission counted in handle_completion is released.
std::function<void(bool)> HttpServer::release_when_done(const std::shared_ptr<Job>& job) {
  return [this, job](bool success) {
    if (!success || !job->finished()) scheduler_->cancel(job);
    --in_flight_;
  };
}

void HttpServer::respond_stream(httplib::Response& res, const std::shared_ptr<Job>& job, const ResponseMeta& meta) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto started = std::make_shared<bool>(false);
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, job, meta, started](size_t, httplib::DataSink& sink) {
        const bool lp = job->request().logprobs >= 0;
        std::string out;
        if (!*started && meta.chat)  // the assistant role first, as OpenAI does
          for (int64_t i = 0; i < job->n(); ++i) {
            ChoiceEvent role;
            role.index = i;
            out += sse(chunk_json(meta, role, false, true));
          }
        *started = true;
        std::vector<ChoiceEvent> evs;
        const bool more = job->next(evs, 100ms);
        for (const auto& ev : evs) {
          if (ev.finish == FinishReason::kCancelled) continue;
          if (ev.text.empty() && ev.reasoning.empty() && ev.tool_calls.empty() && ev.logprobs.empty() &&
              ev.finish == FinishReason::kNone && ev.tokens.empty())
            continue;
          out += sse(chunk_json(meta, ev, lp, false));
        }
        if (!more) {
          if (!job->error().empty() && !job->cancelled())
            out += sse(ApiError(503, job->error()).body());
          if (job->request().include_usage) out += sse(usage_chunk(meta, job->prompt_tokens(), job->completion_tokens()));
          out += "data: [DONE]\n\n";
        }
        if (!out.empty() && !write_or_cancel(sink, out, job)) return false;
        if (!more) sink.done();
        return true;
      },
      release_when_done(job));
}

void HttpServer::respond_whole(httplib::Response& res, const std::shared_ptr<Job>& job, const ResponseMeta& meta) {
  // Sent as one chunk when done. Until then, a space (JSON allows leading whitespace) every
  // second of waiting is the only way to notice a client that hung up, and cancel its work.
  struct State {
    std::vector<ChoiceResult> choices;
    std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
  };
  auto st = std::make_shared<State>();
  st->choices.resize(size_t(job->n()));
  res.set_chunked_content_provider(
      "application/json",
      [this, job, meta, st](size_t, httplib::DataSink& sink) {
        std::vector<ChoiceEvent> evs;
        const bool more = job->next(evs, 100ms);
        for (auto& ev : evs) accumulate(st->choices[size_t(ev.index)], ev);
        std::string out;
        if (!more) {
          json body = job->error().empty() ? full_response(meta, st->choices, job->request().logprobs >= 0,
                                                           job->prompt_tokens(), job->completion_tokens())
                                           : ApiError(503, job->error()).body();
          if (meta.echo && job->error().empty()) prepend_echo(body, *meta.echo);
          out = dump(body);
        } else if (std::chrono::steady_clock::now() - st->last_write > 1s) {
          out = " ";
        }
        if (!out.empty()) {
          st->last_write = std::chrono::steady_clock::now();
          if (!write_or_cancel(sink, out, job)) return false;
        }
        if (!more) sink.done();
        return true;
      },
      release_when_done(job));
}

}  // namespace dsv3::server
