#include "train_test_util.h"

#include <sstream>

#include "io/json_file.h"

namespace dsv3::test {

std::string write_corpus(const TempDir& dir, int docs) {
  const char* subj[] = {"the cat", "a dog", "my friend", "the old man", "every child", "the river"};
  const char* verb[] = {"sees", "likes", "follows", "finds", "remembers", "crosses"};
  const char* obj[] = {"the hill.", "a red ball.", "the quiet town.", "some bread.", "the long road.", "a small boat."};
  std::ostringstream s;
  uint32_t r = 12345;
  auto next = [&] { return (r = r * 1103515245u + 12345u) >> 16; };
  for (int d = 0; d < docs; ++d) {
    for (int k = 0; k < 4 + int(next() % 4); ++k)
      s << subj[next() % 6] << " " << verb[next() % 6] << " " << obj[next() % 6] << " ";
    s << "\n\n";
  }
  const std::string path = dir.file("corpus.txt");
  write_text(path, s.str());
  return path;
}

std::vector<json> read_metrics_lines(const std::string& out_dir) {
  std::istringstream in(read_text(out_dir + "/metrics.jsonl"));
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::string tiny_config() { return data_path("train/tiny_v3.json"); }

}  // namespace dsv3::test
