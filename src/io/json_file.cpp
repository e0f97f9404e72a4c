#include "io/json_file.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace dsv3 {

json parse_json_text(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    fail(what, ": not valid JSON (byte ", e.byte, ")");
  } catch (const json::exception& e) {  // e.g. a number too large for a double
    fail(what, ": not valid JSON (", e.what(), ")");
  }
}

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_json_text(ss.str(), path);
}

}  // namespace dsv3
