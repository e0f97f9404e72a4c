// Tokenizer throughput in MB/s of UTF-8 input: single-core encoding of real text (the GPL-3
// licence plus Chinese, Japanese/Korean/other scripts and code), with a warm and a cold
// word cache, decoding, and multi-threaded batch encoding of a corpus.
//   build/bench/bench_tokenizer [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "core/parallel.h"
#include "tokenizer/bpe.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const dsv3::Tokenizer& tokenizer() {
  static const dsv3::Tokenizer tok = dsv3::Tokenizer::load(DSV3_SOURCE_DIR "/tests/data/tokenizer/deepseek-v3");
  return tok;
}

// English licence text with about a fifth of the bytes in other scripts.
const std::string& real_text() {
  static const std::string text = [] {
    const std::string data = DSV3_SOURCE_DIR "/tests/data/tokenizer/text/";
    std::string t = read_file("/usr/share/common-licenses/GPL-3");
    const std::string zh = read_file(data + "zh.txt"), multi = read_file(data + "multi.txt"), code = read_file(data + "code.txt");
    for (int i = 0; i < 3; ++i) t += zh + multi + code;
    return t;
  }();
  return text;
}

void set_bytes(benchmark::State& state, size_t bytes) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
  state.counters["MB/s"] = benchmark::Counter(double(state.iterations()) * double(bytes) / 1e6, benchmark::Counter::kIsRate);
}

void BM_EncodeWarmCache(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& text = real_text();
  tok.encode(text);
  for (auto _ : state) benchmark::DoNotOptimize(tok.encode(text));
  set_bytes(state, text.size());
}
BENCHMARK(BM_EncodeWarmCache)->Unit(benchmark::kMillisecond);

void BM_EncodeColdCache(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& text = real_text();
  for (auto _ : state) {
    dsv3::BpeModel::clear_thread_cache();
    benchmark::DoNotOptimize(tok.encode(text));
  }
  set_bytes(state, text.size());
}
BENCHMARK(BM_EncodeColdCache)->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto ids = tok.encode(real_text());
  for (auto _ : state) benchmark::DoNotOptimize(tok.decode(ids));
  set_bytes(state, real_text().size());
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

// A corpus of 256 documents (the text cut into pieces of about 4 KB, repeated) on N threads.
void BM_EncodeBatch(benchmark::State& state) {
  const auto& tok = tokenizer();
  const auto& text = real_text();
  std::vector<std::string> docs;
  for (size_t i = 0; docs.size() < 256; i = (i + 4096) % text.size()) {
    size_t end = std::min(text.size(), i + 4096);
    while (end < text.size() && (uint8_t(text[end]) & 0xC0) == 0x80) ++end;  // whole characters
    docs.push_back(text.substr(i, end - i));
    i = end - 4096;
  }
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();
  dsv3::set_num_threads(int(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(tok.encode_batch(docs));
  set_bytes(state, bytes);
  dsv3::set_num_threads(0);
}
BENCHMARK(BM_EncodeBatch)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
