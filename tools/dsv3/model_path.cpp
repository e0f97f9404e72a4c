#include "model_path.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace fs = std::filesystem;

namespace dsv3::cli {

namespace {
fs::path exe_dir() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path(".") : p.parent_path();
}
}  // namespace

std::string resolve_model_dir(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("DSV3_MODEL"); env && *env) return env;
  for (const fs::path& root : {exe_dir() / "..", fs::path(DSV3_SOURCE_DIR)}) {
    const fs::path p = root / "models" / "default";
    if (fs::exists(p / "config.json")) return fs::weakly_canonical(p).string();
  }
  fail("no --model given and no default model found (models/default)");
}

std::unique_ptr<Model> load_model(const std::string& given) {
  auto model = Model::load(resolve_model_dir(given));
  const auto& unused = model->unused_tensors();
  if (!unused.empty()) {
    std::fprintf(stderr, "note: %zu checkpoint tensor(s) not used by this config:", unused.size());
    for (size_t i = 0; i < unused.size() && i < 5; ++i) std::fprintf(stderr, " %s", unused[i].c_str());
    std::fprintf(stderr, "%s\n", unused.size() > 5 ? " ..." : "");
  }
  return model;
}

}  // namespace dsv3::cli
