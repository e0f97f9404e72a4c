// dsv3 plot --needle EVAL.json: the passkey grid of `dsv3 eval --kind passkey --json` as an SVG
// heat map (length × depth).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli_args.h"
#include "commands.h"
#include "core/error.h"
#include "eval/needle_svg.h"
#include "io/json_file.h"
#include "io/safetensors_writer.h"

namespace dsv3::cli {

int cmd_plot_needle(int argc, char** argv) {
  const Args a(argc, argv, {"needle", "out", "title"}, {"help"});
  if (a.has("help"))
    return std::fputs("usage: dsv3 plot --needle EVAL.json --out GRID.svg [--title T]\n"
                      "EVAL.json: the output of dsv3 eval --kind passkey --json.\n", stdout), 0;
  const std::string path = a.required("needle"), out = a.required("out");
  std::ifstream f(path);
  if (!f) fail(path, ": cannot open");
  std::stringstream text;
  text << f.rdbuf();
  const json report = json::parse(text.str(), nullptr, false);
  if (report.is_discarded()) fail(path, ": not JSON");
  write_file_atomic(out, eval::needle_svg(report, a.str("title", "passkey retrieval: " + path), path));
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace dsv3::cli
