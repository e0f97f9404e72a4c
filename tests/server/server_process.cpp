#include "server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <stdexcept>

#include "io/json_file.h"

namespace dsv3::test {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ServerProcess::ServerProcess(const std::string& args) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    const std::string cmd = std::string("exec ") + DSV3_BINARY + " serve --host 127.0.0.1 --port 0 " + args;
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  err_fd_ = fds[0];
  const std::regex addr("listening on http://127\\.0\\.0\\.1:([0-9]+)");
  const double deadline = now_s() + 60.0;
  while (now_s() < deadline) {
    pollfd p{err_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(err_fd_, buf, sizeof buf);
    if (n <= 0) break;
    log_.append(buf, size_t(n));
    std::smatch m;
    if (std::regex_search(log_, m, addr)) {
      port_ = std::atoi(m[1].str().c_str());
      fcntl(err_fd_, F_SETFL, O_NONBLOCK);
      return;
    }
  }
  terminate(5.0);
  throw std::runtime_error("dsv3 serve did not start: " + log_);
}

int ServerProcess::terminate(double timeout_s) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const double deadline = now_s() + timeout_s;
  int status = 0;
  while (now_s() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      char buf[4096];
      ssize_t n;
      while ((n = read(err_fd_, buf, sizeof buf)) > 0) log_.append(buf, size_t(n));
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    usleep(20000);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

ServerProcess::~ServerProcess() {
  terminate();
  if (err_fd_ >= 0) close(err_fd_);
}

RawConnection::RawConnection(int port, const std::string& request) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;  // reads then give ""
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += size_t(n);
  }
}

RawConnection::~RawConnection() { close(fd_); }

std::string RawConnection::read_until(const std::string& needle, double seconds) {
  std::string out;
  const double deadline = now_s() + seconds;
  while ((needle.empty() || out.find(needle) == std::string::npos) && now_s() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[8192];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

bool RawConnection::send_more(const std::string& bytes) {
  return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size());
}

bool RawConnection::peer_closed(double seconds) {
  const double deadline = now_s() + seconds;
  while (now_s() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    if (recv(fd_, buf, sizeof buf, 0) <= 0) return true;
  }
  return false;
}

std::string raw_http(int port, const std::string& request, double timeout_s) {
  return RawConnection(port, request).read_until("", timeout_s);
}

int status_of(const std::string& r) {
  if (r.rfind("HTTP/1.", 0) != 0 || r.size() < 12) return 0;
  return std::atoi(r.substr(9, 3).c_str());
}

std::string body_of(const std::string& r) {
  const size_t head_end = r.find("\r\n\r\n");
  if (head_end == std::string::npos) return "";
  const std::string head = r.substr(0, head_end), body = r.substr(head_end + 4);
  if (head.find("Transfer-Encoding: chunked") == std::string::npos) return body;
  std::string out;
  size_t i = 0;
  while (i < body.size()) {
    const size_t eol = body.find("\r\n", i);
    if (eol == std::string::npos) break;
    const size_t len = std::strtoul(body.substr(i, eol - i).c_str(), nullptr, 16);
    if (len == 0) break;
    out += body.substr(eol + 2, len);
    i = eol + 2 + len + 2;
  }
  return out;
}

std::string request(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& headers) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n" +
         headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

Reply call(int port, const std::string& method, const std::string& path, const std::string& body,
           const std::string& headers) {
  Reply r;
  r.raw = raw_http(port, request(method, path, body, headers));
  r.status = status_of(r.raw);
  r.body = body_of(r.raw);
  r.j = json::parse(r.body, nullptr, false);
  return r;
}

std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> out;
  size_t i = 0;
  while ((i = body.find("data: ", i)) != std::string::npos) {
    const size_t end = body.find("\n\n", i);
    out.push_back(body.substr(i + 6, end - i - 6));
    i = end;
  }
  return out;
}

}  // namespace dsv3::test
