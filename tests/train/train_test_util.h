// Shared by the trainer tests: a small synthetic corpus and running `dsv3 train` on it.
#pragma once
#include <string>
#include <vector>

#include "io/json_file.h"
#include "test_util.h"

namespace dsv3::test {

// Writes `docs` plain-text documents of made-up sentences into dir/corpus.txt (blank-line separated).
std::string write_corpus(const TempDir& dir, int docs);

// The objects of a run's metrics.jsonl.
std::vector<json> read_metrics_lines(const std::string& out_dir);

// The tiny DeepSeek-V3 config of tests/data/train.
std::string tiny_config();

}  // namespace dsv3::test
