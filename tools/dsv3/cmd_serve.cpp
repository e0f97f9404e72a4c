// dsv3 serve: the OpenAI-compatible HTTP server over one checkpoint.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "dist/world.h"
#include "expert_parallel_run.h"
#include "expert_parallel_serve.h"
#include "model_path.h"
#include "pipeline_generate.h"
#include "sampling_args.h"
#include "server/http_server.h"

namespace dsv3::cli {

namespace {

const char* kUsage =
    "usage: dsv3 serve [--model DIR] [--host 127.0.0.1] [--port 8000] [--name NAME] [--api-key KEY]\n"
    "                  [--max-sequences 16] [--max-queue 64] [--context N] [--max-body-bytes 1048576]\n"
    "                  [--max-prefill-tokens 512] [--default-max-tokens 1024] [--max-n 8]\n"
    "                  [--speculative mtp [--draft N]] [--shutdown-grace 10] [--threads N]\n                  [--cache-type bf16|f32|fp8]\n"
    "                  [--no-reasoning-split] [--prefix-cache-mb 0] [--read-timeout 30]\n"
    "                  [--ep N (under mpirun -np N: rank 0 serves, every rank holds 1/N of the experts)\n"
    "                   [--dp-attention (each rank runs attention and caches for its own sequences)]]\n"
    "                  [--pp P [--stage-layers A,B,...] [--micro-batches M] [--in-flight G] (under mpirun -np P:\n"
    "                   rank 0 serves, rank r runs stage r's layers; each step's sequences go down the stages\n"
    "                   in M groups; G steps of different sequences in flight at once)]\n"
    "OpenAI-compatible API: POST /v1/completions, POST /v1/chat/completions, GET /v1/models,\n"
    "GET /health, GET /metrics. --port 0 picks a free port; the address is printed on stderr.\n"
    "SIGTERM/SIGINT: stop accepting, let running requests finish (at most --shutdown-grace s).\n";

server::ServerOptions parse_options(const Args& a, const std::string& dir) {
  server::ServerOptions o;
  o.host = a.str("host", "127.0.0.1");
  const int64_t port = a.integer("port", 8000);
  if (port < 0 || port > 65535) fail("--port must be in [0, 65535]");
  o.port = int(port);
  o.model_name = a.str("name", std::filesystem::path(dir).filename().string());
  if (o.model_name.empty() || o.model_name == "." || o.model_name == "..")
    o.model_name = std::filesystem::weakly_canonical(dir).filename().string();
  if (a.has("model")) o.model_aliases.push_back(a.str("model"));
  o.model_aliases.push_back(dir);
  o.api_key = a.str("api-key");
  if (o.api_key.empty())
    if (const char* k = std::getenv("DSV3_API_KEY")) o.api_key = k;
  const auto positive = [&](const char* name, int64_t fallback) {
    const int64_t v = a.integer(name, fallback);
    if (v < 1) fail("--", name, " must be >= 1");
    return v;
  };
  o.max_body_bytes = positive("max-body-bytes", 1 << 20);
  o.read_timeout_s = a.number("read-timeout", 30);  // seconds, fractions allowed
  if (!(o.read_timeout_s >= 0.001 && o.read_timeout_s <= 86400)) fail("--read-timeout must be in [0.001, 86400] seconds");
  o.scheduler.max_sequences = positive("max-sequences", 16);
  o.scheduler.max_queue = positive("max-queue", 64);
  o.scheduler.batcher.max_prefill_tokens = positive("max-prefill-tokens", 512);
  o.scheduler.batcher.context_length = a.integer("context", 0);
  o.scheduler.batcher.draft_tokens = parse_draft_tokens(a);
  o.limits.default_chat_max_tokens = positive("default-max-tokens", 1024);
  o.limits.max_n = positive("max-n", 8);
  o.split_reasoning = !a.has("no-reasoning-split");
  const int64_t prefix_mb = a.integer("prefix-cache-mb", 0);
  if (prefix_mb < 0) fail("--prefix-cache-mb must be >= 0");
  o.scheduler.batcher.prefix_cache_bytes = prefix_mb << 20;
  return o;
}

// Serves until SIGTERM/SIGINT, then lets running requests finish.
void serve(const Model& model, const server::TextCodec& codec, const server::ServerOptions& opt, sigset_t sigs,
           double grace) {
  server::HttpServer http(model, codec, opt);
  http.bind();
  std::fprintf(stderr, "dsv3 serve: model '%s' (%s) listening on http://%s:%d\n", opt.model_name.c_str(),
               codec.has_tokenizer() ? "with tokenizer" : "no tokenizer: token-id prompts", opt.host.c_str(),
               http.bound_port());
  std::fflush(stderr);

  std::thread watcher([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (sig == SIGUSR1) return;  // run() ended on its own
    std::fprintf(stderr, "dsv3 serve: signal %d: finishing running requests (at most %.0f s)\n", sig, grace);
    http.shutdown(grace);
  });
  http.run();
  pthread_kill(watcher.native_handle(), SIGUSR1);
  watcher.join();
}

}  // namespace

int cmd_serve(int argc, char** argv) {
  const Args a(argc, argv,
               {"model", "host", "port", "name", "api-key", "max-sequences", "max-queue", "context", "max-body-bytes",
                "max-prefill-tokens", "default-max-tokens", "max-n", "speculative", "draft", "shutdown-grace",
                "threads", "prefix-cache-mb", "read-timeout", "ep", "cache-type", "pp", "stage-layers", "micro-batches", "in-flight"},
               {"help", "no-reasoning-split", "dp-attention"});
  if (a.has("help")) return std::fputs(kUsage, stdout), 0;
  // Signals go to one waiting thread only: block them before any other thread exists.
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&sigs, s);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server
  apply_threads(a);
  apply_cache_type(a);
  const double grace = a.number("shutdown-grace", 10.0);
  if (!(grace >= 0)) fail("--shutdown-grace must be >= 0");

  const std::string dir = resolve_model_dir(a.str("model"));
  server::ServerOptions opt = parse_options(a, dir);
  const auto model = Model::load(dir);
  // --pp P: rank 0 serves and runs stage 0; the other ranks run their stages of its steps.
  PipelineGenerateRun pp(a, *model, dir);
  if (pp.active() && opt.scheduler.batcher.prefix_cache_bytes > 0)
    dist::fail_on_every_rank("--prefix-cache-mb does not run with --pp yet (the other ranks keep no prefix cache)");
  // --ep N: rank 0 serves; the other ranks run its steps' model calls until it stops.
  const ExpertParallelRun ep(a, *model, dir);
  // Rank 0's scheduler thread makes the MPI calls of --ep and --pp.
  if (ep.active() || pp.active())
    if (const std::string why = dist::serialized_threads_problem(dist::world_thread_level()); !why.empty())
      dist::fail_on_every_rank(why);
  // Every rank keeps the same prefix cache.
  if (ep.active())
    dist::check_same_everywhere(dist::world(), uint64_t(opt.scheduler.batcher.prefix_cache_bytes), "--prefix-cache-mb");
  const bool dp_attention = a.has("dp-attention");
  if (dp_attention && (!ep.active() || pp.active()))
    fail("--dp-attention needs --ep N without --pp (under mpirun -np N)");
  if (dp_attention) {
    dist::check_same_everywhere(dist::world(), 1, "--dp-attention");
    if (opt.scheduler.batcher.prefix_cache_bytes > 0)
      dist::fail_on_every_rank("--dp-attention does not run with --prefix-cache-mb (a rank holds only its own sequences' caches)");
    ep.moe()->set_rows_are_own(true);
  }
  if (pp.follower()) {  // with or without --ep: rank 0's main-model steps, through this rank's stage
    pthread_sigmask(SIG_UNBLOCK, &sigs, nullptr);  // mpirun ends the job with SIGTERM
    pp.follow();
    return 0;
  }
  if (pp.active()) opt.scheduler.batcher.observer = pp.observer();
  if (pp.active()) opt.scheduler.batcher.in_flight = pp.in_flight();
  if (!ep.output_rank()) {
    pthread_sigmask(SIG_UNBLOCK, &sigs, nullptr);  // mpirun ends the job with SIGTERM
    follow_steps(*model, dist::world(), opt.scheduler.batcher.prefix_cache_bytes, dp_attention ? ep.moe() : nullptr);
    return 0;
  }
  std::unique_ptr<StepBroadcaster> steps;
  if (ep.active() && !pp.active()) {
    steps = std::make_unique<StepBroadcaster>(dist::world(), model->config().hidden_size);
    opt.scheduler.batcher.observer = steps.get();
    if (dp_attention) steps->attend_data_parallel(*model, *ep.moe());
  }
  const auto codec = server::make_text_codec(dir);
  serve(*model, *codec, opt, sigs, grace);
  if (steps) steps->stop();  // the scheduler's thread has ended: no step is in flight
  pp.stop();
  std::fprintf(stderr, "dsv3 serve: stopped\n");
  return 0;
}

}  // namespace dsv3::cli
