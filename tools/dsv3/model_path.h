#pragma once
#include <string>

namespace dsv3::cli {

// --model if given, else $DSV3_MODEL, else the model that ships with the repository.
std::string resolve_model_dir(const std::string& given);

}  // namespace dsv3::cli
