// Runs `dsv3 serve` as a child process on a free loopback port for the server tests, and
// talks to it with raw sockets or cpp-httplib's client.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "io/json_file.h"

namespace dsv3::test {

class ServerProcess {
 public:
  // Starts build/dsv3 serve --host 127.0.0.1 --port 0 <args> and waits for its address.
  explicit ServerProcess(const std::string& args);
  ~ServerProcess();  // SIGTERM, then SIGKILL if it has not exited within 20 s
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends SIGTERM and waits; returns the exit status (or -1 after a timeout).
  int terminate(double timeout_s = 20.0);
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0, err_fd_ = -1;
  std::string log_;
};

// A TCP connection to 127.0.0.1:port that sends `request` at once and is then read from, or
// closed by destruction (a client that goes away).
class RawConnection {
 public:
  RawConnection(int port, const std::string& request);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  // Reads until `needle` has arrived (empty: until the peer closes) or the time is up.
  std::string read_until(const std::string& needle, double seconds = 20);
  bool send_more(const std::string& bytes);  // false once the peer has closed
  bool peer_closed(double seconds);          // waits up to `seconds` for the peer to close

 private:
  int fd_ = -1;
};

// One request over a fresh connection; returns the raw response (read until the server closes).
std::string raw_http(int port, const std::string& request, double timeout_s = 20.0);

// Status code of a raw response ("HTTP/1.1 404 ..."), 0 if none.
int status_of(const std::string& response);
std::string body_of(const std::string& response);  // after the blank line, chunked decoded

// An HTTP/1.1 request with Connection: close and a JSON body.
std::string request(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& headers = "");

struct Reply {
  int status = 0;
  std::string raw, body;
  json j;  // the body parsed (discarded when it is not JSON)
};
Reply call(int port, const std::string& method, const std::string& path, const std::string& body = "",
           const std::string& headers = "");

// The data: payloads of a server-sent event stream, [DONE] included.
std::vector<std::string> sse_events(const std::string& body);

}  // namespace dsv3::test
