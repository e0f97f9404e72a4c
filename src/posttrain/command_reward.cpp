#include "posttrain/command_reward.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "io/json_file.h"

extern char** environ;

namespace dsv3::posttrain {

namespace {

using Clock = std::chrono::steady_clock;
// Bytes kept of each stream; the rest is read and dropped. stdout keeps its first bytes (one
// number: a byte past the limit makes it a failure), stderr its last ones (a traceback's last
// line says why the command failed).
constexpr size_t kMaxKept = 4096;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// The input as an unlinked temporary file rewound to its start: the command reads it at its own
// pace, and one that never reads cannot block dsv3 on a full pipe.
bool stdin_file(const std::string& input, Fd& out) {
  FILE* f = std::tmpfile();
  if (!f) return false;
  out.fd = ::fcntl(fileno(f), F_DUPFD_CLOEXEC, 0);  // not inherited by other threads' children
  const bool ok = std::fwrite(input.data(), 1, input.size(), f) == input.size() && std::fflush(f) == 0;
  std::fclose(f);
  return ok && out.fd >= 0 && ::lseek(out.fd, 0, SEEK_SET) == 0;
}

bool exited(pid_t pid) {  // without reaping it, so its process group stays valid for kill()
  siginfo_t info{};
  return ::waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

// Reads whatever the pipes hold within `wait_ms`; closes a pipe at its end. False when nothing
// was there (the kept text's size cannot tell: stderr's stays at kMaxKept once full).
bool read_pipes(Fd& out, Fd& err, std::string& out_text, std::string& err_text, int wait_ms) {
  pollfd p[2] = {{out.fd, POLLIN, 0}, {err.fd, POLLIN, 0}};
  if (::poll(p, 2, wait_ms) <= 0) return false;
  char buf[4096];
  for (int i = 0; i < 2; ++i) {
    if (!p[i].revents) continue;
    Fd& fd = i == 0 ? out : err;
    std::string& text = i == 0 ? out_text : err_text;
    const ssize_t got = ::read(fd.fd, buf, sizeof buf);
    if (got > 0 && i == 0) {
      text.append(buf, std::min(size_t(got), kMaxKept + 1 - std::min(kMaxKept + 1, text.size())));
    } else if (got > 0) {
      text.append(buf, size_t(got));
      if (text.size() > kMaxKept) text.erase(0, text.size() - kMaxKept);
    } else if (got == 0 || errno != EINTR)
      fd.close();
  }
  return true;
}

// Collects the command's output until it exits (what it printed before is read to the end; a
// background process it left holding the pipes is not waited for); false at the deadline.
bool collect(pid_t pid, Fd& out, Fd& err, std::string& out_text, std::string& err_text, Clock::time_point deadline) {
  for (;;) {
    if (exited(pid)) {
      // Drained until nothing is waiting; a background process that keeps writing is cut off at
      // the deadline.
      while ((out.fd >= 0 || err.fd >= 0) && Clock::now() < deadline && read_pipes(out, err, out_text, err_text, 0)) {
      }
      return true;
    }
    if (Clock::now() >= deadline) return false;
    // Open pipes: poll wakes on output; the 5 ms bound notices the exit of a silent command.
    if (out.fd >= 0 || err.fd >= 0)
      read_pipes(out, err, out_text, err_text, 5);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string last_line(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  const size_t nl = s.find_last_of('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::string exit_failure(int status, const std::string& err) {
  std::string why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                        : "exit status " + std::to_string(WEXITSTATUS(status));
  const std::string tail = last_line(err);
  return tail.empty() ? why : why + " (stderr: " + tail + ")";
}

CommandResult parse_reward(const std::string& out) {
  if (out.size() > kMaxKept) return {0.0, "printed more than " + std::to_string(kMaxKept) + " bytes, not one number"};
  const char* begin = out.c_str();
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(begin, &end);
  const bool only_space = end != begin && std::all_of(static_cast<const char*>(end), out.c_str() + out.size(),
                                                      [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
  if (!only_space || errno == ERANGE || !std::isfinite(v))
    return {0.0, "printed \"" + last_line(out).substr(0, 80) + "\", not one finite number"};
  return {v, ""};
}

}  // namespace

CommandResult run_reward_command(const std::string& command, const std::string& input, double timeout_s) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  Fd in, out_r, out_w, err_r, err_w;
  int p[2];
  if (!stdin_file(input, in)) return {0.0, std::string("cannot write its input: ") + std::strerror(errno)};
  if (::pipe2(p, O_CLOEXEC) != 0) return {0.0, std::string("pipe: ") + std::strerror(errno)};
  out_r.fd = p[0], out_w.fd = p[1];
  if (::pipe2(p, O_CLOEXEC) != 0) return {0.0, std::string("pipe: ") + std::strerror(errno)};
  err_r.fd = p[0], err_w.fd = p[1];

  // A process group of its own, so a timeout kills what the shell started too; default signal
  // dispositions, so a server that ignores SIGPIPE does not pass that on.
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.fd, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.fd, 2);
  posix_spawnattr_init(&attr);
  sigset_t none, pipe_sig;
  sigemptyset(&none);
  sigemptyset(&pipe_sig);
  sigaddset(&pipe_sig, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &pipe_sig);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  const int rc = ::posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return {0.0, std::string("cannot start /bin/sh: ") + std::strerror(rc)};
  in.close(), out_w.close(), err_w.close();

  std::string out_text, err_text;
  const bool ended = collect(pid, out_r, err_r, out_text, err_text, deadline);
  ::kill(-pid, SIGKILL);  // the group: the command on a timeout, anything it left running otherwise
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ended) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", timeout_s);
    return {0.0, std::string("timed out after ") + secs + " s (killed)"};
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return {0.0, exit_failure(status, err_text)};
  return parse_reward(out_text);
}

double CommandReward::score(const eval::GenItem& item, const std::string& output) const {
  const json in = {{"prompt", item.prompt}, {"completion", output}, {"answers", item.answers}, {"line", item.line}};
  // A sampled output may end inside a UTF-8 sequence: replaced (U+FFFD), not an exception.
  const std::string line = in.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  const CommandResult r = run_reward_command(command_, line, timeout_s_);
  if (r.failure.empty()) return r.reward;
  std::fprintf(stderr, "dsv3: reward command failed for the item of line %lld (scored 0): %s\n",
               static_cast<long long>(item.line), r.failure.c_str());
  return 0.0;
}

}  // namespace dsv3::posttrain
