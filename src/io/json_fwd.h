// The `json` name without nlohmann::json's 25,000 lines: for headers that only pass JSON by
// reference or declare functions returning it. Parsing the full header cost about 1.3 s of
// compile time per file under the sanitizer build, in every file that included model/config.h;
// a file that builds, reads or prints JSON includes io/json_file.h.
#pragma once
#include <nlohmann/json_fwd.hpp>

namespace dsv3 {

using json = nlohmann::json;

}  // namespace dsv3
