// The single-process backend: a group of one rank. Collectives copy send to recv; a message
// sent to oneself waits in a queue until received.
#include <cstring>
#include <deque>
#include <map>

#include "core/error.h"
#include "dist/comm.h"

namespace dsv3::dist {

size_t elem_size(Elem e) {
  switch (e) {
    case Elem::U8: return 1;
    case Elem::I32: case Elem::F32: return 4;
    case Elem::I64: case Elem::F64: return 8;
  }
  return 1;
}

std::vector<int64_t> Communicator::exchange_counts(const std::vector<int64_t>& send_counts) {
  if (int64_t(send_counts.size()) != size()) fail("exchange_counts: ", send_counts.size(), " counts for ", size(), " ranks");
  std::vector<int64_t> recv_counts(send_counts.size());
  const std::vector<int64_t> ones(send_counts.size(), 1);
  all_to_all(send_counts.data(), ones, recv_counts.data(), ones, Elem::I64);
  return recv_counts;
}

namespace {

class DoneRequest final : public Request {
 public:
  void wait() override {}
};

}  // namespace

std::unique_ptr<Request> Communicator::send_start(const void* data, int64_t count, Elem e, int dst, int tag) {
  send(data, count, e, dst, tag);
  return std::make_unique<DoneRequest>();
}

std::unique_ptr<Request> Communicator::recv_start(void* data, int64_t count, Elem e, int src, int tag) {
  recv(data, count, e, src, tag);
  return std::make_unique<DoneRequest>();
}

namespace {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::unique_ptr<Communicator> split(int, int) const override { return std::make_unique<LocalCommunicator>(); }
  void barrier() override {}
  void all_reduce(void*, int64_t, Elem, ReduceOp) override {}
  void reduce_scatter(const void* send, void* recv, int64_t count, Elem e) override { copy(recv, send, count, e); }
  void all_gather(const void* send, void* recv, const std::vector<int64_t>& counts, Elem e) override {
    copy(recv, send, counts.at(0), e);
  }
  void broadcast(void*, int64_t, Elem, int root) override { check_peer(root); }
  void send(const void* data, int64_t count, Elem e, int dst, int tag) override {
    check_peer(dst);
    const auto* p = static_cast<const uint8_t*>(data);
    queues_[tag].emplace_back(p, p + count * int64_t(elem_size(e)));
  }
  void recv(void* data, int64_t count, Elem e, int src, int tag) override {
    check_peer(src);
    auto& q = queues_[tag];
    if (q.empty()) fail("recv from rank 0 with tag ", tag, ": no message was sent (a single process would wait forever)");
    if (q.front().size() != size_t(count) * elem_size(e))
      fail("recv with tag ", tag, ": message of ", q.front().size(), " bytes, expected ", count * int64_t(elem_size(e)));
    std::memcpy(data, q.front().data(), q.front().size());
    q.pop_front();
  }
  std::unique_ptr<Request> all_to_all_start(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                                            const std::vector<int64_t>& recv_counts, Elem e) override {
    if (send_counts.at(0) != recv_counts.at(0))
      fail("all_to_all: sending ", send_counts[0], " elements to oneself but expecting ", recv_counts[0]);
    copy(recv, send, send_counts[0], e);
    return std::make_unique<DoneRequest>();
  }

 private:
  static void copy(void* to, const void* from, int64_t count, Elem e) {
    if (count > 0 && to != from) std::memmove(to, from, size_t(count) * elem_size(e));
  }
  static void check_peer(int r) {
    if (r != 0) fail("rank ", r, " does not exist in a single-process group");
  }
  std::map<int, std::deque<std::vector<uint8_t>>> queues_;
};

}  // namespace

std::unique_ptr<Communicator> local_communicator() { return std::make_unique<LocalCommunicator>(); }

}  // namespace dsv3::dist
