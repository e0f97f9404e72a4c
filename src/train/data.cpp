#include "io/json_file.h"
#include "train/data.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "io/file_list.h"

namespace fs = std::filesystem;

namespace dsv3 {

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[size_t(i)] = i;
  uint64_t s = mix64(seed);
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    s = mix64(s);
    std::swap(p[size_t(i)], p[size_t(s % uint64_t(i + 1))]);
  }
  return p;
}

namespace {


std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_jsonl(const std::string& path) { return fs::path(path).extension() == ".jsonl"; }

// Each non-empty line of a JSONL file, parsed, with its line number for errors.
template <typename F>
void for_each_json_line(const std::string& path, F f) {
  std::istringstream in(read_file(path));
  std::string line;
  int64_t no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    f(parse_json_text(line, cat(path, ":", no)), cat(path, ":", no));
  }
}

void split_text(const std::string& text, const std::string& mode, std::vector<std::string>& out) {
  auto keep = [&](std::string s) {
    if (s.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(std::move(s));
  };
  if (mode == "file") return keep(text);
  std::istringstream in(text);
  std::string line, cur;
  while (std::getline(in, line)) {
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    if (mode == "line") {
      if (!blank) keep(line);
    } else if (blank) {
      keep(cur);
      cur.clear();
    } else {
      cur += line;
      cur += '\n';
    }
  }
  if (mode == "blank") keep(cur);
}

}  // namespace

std::vector<std::string> read_documents(const DataOptions& opt) {
  if (opt.doc_split != "file" && opt.doc_split != "blank" && opt.doc_split != "line")
    fail("document split '", opt.doc_split, "' is not file, blank or line");
  std::vector<std::string> docs;
  for (const std::string& f : expand_input_files(opt.paths)) {
    if (!is_jsonl(f)) {
      split_text(read_file(f), opt.doc_split, docs);
      continue;
    }
    for_each_json_line(f, [&](const json& j, const std::string& where) {
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) fail(where, ": expected {\"text\": \"...\"}");
      docs.push_back(j["text"].get<std::string>());
    });
  }
  return docs;
}

std::vector<json> read_conversations(const std::vector<std::string>& paths) {
  std::vector<json> out;
  for (const std::string& f : expand_input_files(paths)) {
    if (!is_jsonl(f)) fail(f, ": SFT data must be chat JSONL (.jsonl)");
    for_each_json_line(f, [&](const json& j, const std::string& where) {
      if (!j.is_object() || !j.contains("messages") || !j["messages"].is_array())
        fail(where, ": expected {\"messages\": [...]}");
      out.push_back(j["messages"]);
    });
  }
  return out;
}

TokenRows PackedSet::rows(const std::vector<int64_t>& index) const {
  TokenRows r;
  r.B = int64_t(index.size());
  r.T = T;
  r.seq_index = index;
  if (source) {
    r.tokens.resize(size_t(r.B * T));
    for (size_t b = 0; b < index.size(); ++b) source->read(index[b], r.tokens.data() + b * size_t(T));
    return r;
  }
  for (int64_t i : index) {
    r.tokens.insert(r.tokens.end(), tokens.begin() + i * T, tokens.begin() + (i + 1) * T);
    if (!mask.empty()) r.mask.insert(r.mask.end(), mask.begin() + i * T, mask.begin() + (i + 1) * T);
  }
  return r;
}

void SequenceSampler::shuffle() { order_ = permutation(n_, mix64(seed_ ^ mix64(uint64_t(epoch_) + 0x5eed))); }

void SequenceSampler::seek(int64_t epoch, int64_t cursor) {
  epoch_ = epoch;
  cursor_ = cursor;
  shuffle();
}

std::vector<int64_t> SequenceSampler::next(int64_t count) {
  if (n_ <= 0) fail("no training sequences");
  if (order_.empty()) shuffle();
  std::vector<int64_t> out;
  while (int64_t(out.size()) < count) {
    if (cursor_ == n_) {
      ++epoch_;
      cursor_ = 0;
      shuffle();
    }
    out.push_back(order_[size_t(cursor_++)]);
  }
  return out;
}

}  // namespace dsv3
