// Reading JSON files with errors that name the file (and the offset of a syntax error).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "io/json_fwd.h"

namespace dsv3 {

json read_json_file(const std::string& path);
json parse_json_text(const std::string& text, const std::string& what);

}  // namespace dsv3
