// A bounded soak of dsv3 serve under faults, on loopback: 64 concurrent clients for
// DSV3_SOAK_SECONDS (default 30; bench/soak.sh runs it longer) mixing well-formed streaming
// completions (checked token for token against `dsv3 generate`) with disconnects mid-stream,
// malformed JSON, oversized bodies, invalid UTF-8, unknown fields of every JSON type, slow
// clients (one byte a second, closed by the 0.5 s read timeout) and requests beyond the queue.
// Pass: every well-formed request answered correctly (or 429 when the queue is full), every
// fault answered with its error, /health answering throughout, resident memory within 10%
// after warm-up (not under ASan, whose quarantine holds freed memory), and a clean exit.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "server_process.h"
#include "test_util.h"

#include "io/json_file.h"

namespace dsv3 {
namespace {

using Clock = std::chrono::steady_clock;

double soak_seconds() {
  const char* s = std::getenv("DSV3_SOAK_SECONDS");
  return s ? std::atof(s) : 30.0;
}

int64_t rss_kb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  return -1;
}

std::string completion(const std::string& prompt, int max_tokens, bool stream, const std::string& extra = "") {
  return R"({"model":"v3-tiny","prompt":[)" + prompt + R"(],"max_tokens":)" + std::to_string(max_tokens) +
         R"(,"temperature":0)" + (stream ? R"(,"stream":true)" : "") + extra + "}";
}

// The streamed text of a completion, or "" when the stream did not end properly.
std::string streamed_text(const std::string& body) {
  std::string text;
  bool done = false;
  for (const auto& e : test::sse_events(body)) {
    if (e == "[DONE]") done = true;
    else text += json::parse(e)["choices"][0]["text"].get<std::string>();
  }
  return done ? text : "";
}

class Soak {
 public:
  Soak(test::ServerProcess& s, std::map<std::string, std::string> expected) : s_(s), expected_(std::move(expected)) {
    for (const auto& [p, t] : expected_) prompts_.push_back(p);
  }

  void client(unsigned seed, Clock::time_point end) {
    std::mt19937 rng(seed);
    while (Clock::now() < end) {
      const int dice = int(rng() % 100);
      const std::string& prompt = prompts_[rng() % prompts_.size()];
      if (dice < 55) well_formed(prompt);
      else if (dice < 67) disconnect(prompt);
      else if (dice < 73) expect("malformed JSON", R"({"model":"v3-tiny","prompt":[1,2)", 400);
      else if (dice < 78) oversized();
      else if (dice < 84) expect("invalid UTF-8", completion(prompt, 1, false, ",\"stop\":\"\xff\xfe\""), 400);
      else if (dice < 96) unknown_field(prompt, rng);
      else slow_client();
    }
  }

  void health(Clock::time_point end) {
    while (Clock::now() < end) {
      const auto r = test::call(s_.port(), "GET", "/health");
      count(r.status == 200 ? "health ok" : "ERROR health failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  std::map<std::string, int64_t> counts() {
    std::lock_guard<std::mutex> lk(mu_);
    return counts_;
  }

 private:
  void count(const std::string& what) {
    std::lock_guard<std::mutex> lk(mu_);
    ++counts_[what];
  }

  void well_formed(const std::string& prompt) {
    const auto r = test::call(s_.port(), "POST", "/v1/completions", completion(prompt, 16, true));
    if (r.status == 429) return count("over-queue 429");
    count(r.status == 200 && streamed_text(r.body) == expected_[prompt] ? "well-formed correct" : "ERROR well-formed wrong");
  }

  void disconnect(const std::string& prompt) {
    test::RawConnection c(s_.port(), test::request("POST", "/v1/completions", completion(prompt, 200, true, R"(,"ignore_eos":true)")));
    const std::string got = c.read_until("data: ", 10);
    count(got.find("data: ") != std::string::npos ? "disconnect mid-stream" : "over-queue 429");
  }

  void expect(const char* what, const std::string& body, int status) {
    const auto r = test::call(s_.port(), "POST", "/v1/completions", body);
    count(r.status == status && r.j.contains("error") ? what : std::string("ERROR ") + what + " got " + std::to_string(r.status));
  }

  // A body declared larger than the limit is refused from its headers. (Sending the bytes too
  // would race the server's close against the client's read: a reset can drop the 413.)
  void oversized() {
    std::string req = test::request("POST", "/v1/completions", std::string(70000, 'x'));
    req.resize(req.find("\r\n\r\n") + 4);
    const std::string r = test::raw_http(s_.port(), req);
    count(test::status_of(r) == 413 ? "oversized body" : "ERROR oversized body got " + std::to_string(test::status_of(r)));
  }

  void unknown_field(const std::string& prompt, std::mt19937& rng) {
    static const char* values[] = {"null", "1", "-2.5e3", "\"s\"", "true", "[1,{\"a\":[]}]", "{\"b\":{\"c\":null}}"};
    const std::string extra = ",\"x_unknown_" + std::to_string(rng() % 7) + "\":" + values[rng() % 7];
    const auto r = test::call(s_.port(), "POST", "/v1/completions", completion(prompt, 16, false, extra));
    if (r.status == 429) return count("over-queue 429");
    const bool ok = r.status == 200 && r.j["choices"][0]["text"] == expected_[prompt];
    count(ok ? "unknown fields ignored" : "ERROR unknown field " + std::to_string(r.status));
  }

  void slow_client() {
    test::RawConnection c(s_.port(), "");
    const std::string req = test::request("POST", "/v1/completions", completion(prompts_[0], 1, false));
    for (size_t i = 0; i < req.size(); ++i) {
      // A byte, then a second's wait: the server's read timeout (0.5 s) closes the connection.
      if (!c.send_more(req.substr(i, 1)) || c.peer_closed(1.0)) return count("slow client closed by read timeout");
    }
    count("ERROR slow client not closed");
  }

  test::ServerProcess& s_;
  std::map<std::string, std::string> expected_;  // prompt -> the greedy text of 16 tokens
  std::vector<std::string> prompts_;
  std::mutex mu_;
  std::map<std::string, int64_t> counts_;
};

TEST(Soak, SixtyFourClientsUnderFaults) {
  const double seconds = soak_seconds();
  test::ServerProcess server("--model " + test::model_path("v3-tiny") +
                             " --max-sequences 16 --max-queue 4 --max-body-bytes 65536 --read-timeout 0.5 --threads 1");
  std::map<std::string, std::string> expected;
  for (const char* p : {"5,9,13", "7", "1,2,3,4", "300,2", "11,12,13,14,15", "40,41"}) {
    const auto r = test::run_dsv3(std::string("generate --model ") + test::model_path("v3-tiny") + " --tokens " + p +
                                  " --max-new-tokens 16 --temperature 0 --ids");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expected[p] = r.out.substr(0, r.out.find('\n'));
  }
  Soak soak(server, expected);
  const auto start = Clock::now(), end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < 64; ++i) threads.emplace_back([&, i] { soak.client(i + 1, end); });
  threads.emplace_back([&] { soak.health(end); });
  // Resident memory once a second; "warm-up" is the first quarter.
  int64_t warm = -1, peak_after = 0;
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const int64_t rss = rss_kb(server.pid());
    if (Clock::now() - start < (end - start) / 4) warm = rss;
    else peak_after = std::max(peak_after, rss);
  }
  for (auto& t : threads) t.join();

  const auto counts = soak.counts();
  std::string report;
  for (const auto& [what, n] : counts) {
    report += what + ": " + std::to_string(n) + "\n";
    EXPECT_EQ(what.rfind("ERROR", 0), std::string::npos) << what << " x" << n;
  }
  std::printf("soak of %.0f s, 64 clients:\n%sresident memory: %lld kB after warm-up, peak %lld kB later\n", seconds,
              report.c_str(), (long long)warm, (long long)peak_after);
  for (const char* must : {"well-formed correct", "disconnect mid-stream", "malformed JSON", "oversized body",
                           "invalid UTF-8", "unknown fields ignored", "slow client closed by read timeout", "health ok",
                           "over-queue 429"})
    EXPECT_GT(counts.count(must) ? counts.at(must) : 0, 0) << must;
#ifndef DSV3_SANITIZE
  EXPECT_LE(peak_after, warm + warm / 10) << "resident memory grew by more than 10% after warm-up";
#endif
  EXPECT_EQ(test::call(server.port(), "GET", "/health").status, 200);
  EXPECT_EQ(server.terminate(), 0) << server.log();
}

}  // namespace
}  // namespace dsv3
