// The subcommands of the dsv3 program. Each takes the arguments after its name and returns
// the process exit code; errors are thrown as dsv3::Error and printed by main as one line.
#pragma once

namespace dsv3::cli {

int cmd_info(int argc, char** argv);
int cmd_logits(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_detokenize(int argc, char** argv);
int cmd_chat_template(int argc, char** argv);
int cmd_tokenizer_train(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_perplexity(int argc, char** argv);
int cmd_grads(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_init(int argc, char** argv);
int cmd_plot(int argc, char** argv);
int cmd_plot_schedule(int argc, char** argv);  // dsv3 plot --trace | --schedule
int cmd_plan(int argc, char** argv);
int cmd_data(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_plot_needle(int argc, char** argv);  // dsv3 plot --needle
int cmd_distill(int argc, char** argv);

}  // namespace dsv3::cli
