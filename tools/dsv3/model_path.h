#pragma once
#include <memory>
#include <string>

#include "model/model.h"

namespace dsv3::cli {

// --model if given, else $DSV3_MODEL, else the model that ships with the repository.
std::string resolve_model_dir(const std::string& given);

// Loads the model of resolve_model_dir(given); tensors the config does not use are reported
// on stderr (they are not an error: checkpoints often carry extras such as rotary caches).
std::unique_ptr<Model> load_model(const std::string& given);

}  // namespace dsv3::cli
