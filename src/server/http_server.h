// The OpenAI-compatible HTTP server (cpp-httplib): routes, authentication, limits, error
// bodies, and the bridge from a connection to its Job (streamed as server-sent events or
// returned whole). Generation itself happens on the Scheduler's thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/metrics.h"
#include "server/request.h"
#include "server/responses.h"
#include "server/scheduler.h"
#include "server/text_codec.h"

namespace httplib {
class Server;
struct Request;
struct Response;
class DataSink;
}  // namespace httplib

namespace dsv3::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                      // 0: any free port (see bound_port)
  std::string model_name;               // the id in /v1/models and responses
  std::vector<std::string> model_aliases;  // other names requests may use (the --model path)
  std::string api_key;                  // empty: no authentication
  int64_t max_body_bytes = 1 << 20;
  double read_timeout_s = 30;           // a client silent this long (seconds) while sending is disconnected
  bool split_reasoning = true;          // <think>…</think> to reasoning_content (requests may opt out)
  int http_threads = 0;                 // 0: enough for every running and queued request
  SchedulerOptions scheduler;
  Limits limits;                        // context_length and vocab_size are filled from the model
};

class HttpServer {
 public:
  HttpServer(const Model& model, const TextCodec& codec, ServerOptions opt);
  ~HttpServer();

  void bind();  // throws Error when the address cannot be bound
  int bound_port() const { return port_; }
  void run();   // serves until shutdown(); returns once in-flight requests have finished
  // Graceful stop, from any thread: new requests get 503 while the running ones finish (at most
  // `grace` seconds, then they are cancelled); then the listener closes and run() returns.
  // (httplib cuts streamed responses once it stops, so it is stopped only after they end.)
  void shutdown(double grace_seconds);

 private:
  void routes();
  void handle_completion(const httplib::Request& req, httplib::Response& res, bool chat);
  void respond_stream(httplib::Response& res, const std::shared_ptr<Job>& job, const ResponseMeta& meta);
  void respond_whole(httplib::Response& res, const std::shared_ptr<Job>& job, const ResponseMeta& meta);
  bool write_or_cancel(httplib::DataSink& sink, const std::string& out, const std::shared_ptr<Job>& job);
  std::function<void(bool)> release_when_done(const std::shared_ptr<Job>& job);
  bool known_model(const std::string& name) const;
  OutputConstraint output_constraint(const CompletionRequest& r) const;

  const Model& model_;
  const TextCodec& codec_;
  ServerOptions opt_;
  Metrics metrics_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = 0;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> next_id_{0};
  std::atomic<int64_t> in_flight_{0};  // admitted responses not yet fully written
};

}  // namespace dsv3::server
