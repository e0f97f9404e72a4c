// The one communication interface of dsv3's parallel layouts: a group of ranks and the
// collectives the layouts need. Backends: single-process (local_comm.cpp) and MPI
// (mpi_comm.cpp); an NCCL backend would implement the same class. Buffers are host memory;
// sizes are element counts of the given type. Every rank of a group must make the same calls in
// the same order (MPI's rule), except send/recv, which pair up point to point.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace dsv3::dist {

enum class Elem { U8, I32, I64, F32, F64 };

size_t elem_size(Elem e);
template <typename T> constexpr Elem elem_of();
template <> constexpr Elem elem_of<uint8_t>() { return Elem::U8; }
template <> constexpr Elem elem_of<int32_t>() { return Elem::I32; }
template <> constexpr Elem elem_of<int64_t>() { return Elem::I64; }
template <> constexpr Elem elem_of<float>() { return Elem::F32; }
template <> constexpr Elem elem_of<double>() { return Elem::F64; }

enum class ReduceOp { Sum, Max };

// A non-blocking operation in flight; wait() completes it (the destructor waits too, so a
// buffer is never freed under a pending transfer).
class Request {
 public:
  virtual ~Request() = default;
  virtual void wait() = 0;
  // Whether it has completed (then it is done, as after wait()); never blocks.
  virtual bool test() {
    wait();
    return true;
  }
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // The ranks with the same color form a new group, ordered by key (MPI_Comm_split).
  virtual std::unique_ptr<Communicator> split(int color, int key) const = 0;

  virtual void barrier() = 0;
  // data [count] on every rank becomes the elementwise reduction over ranks.
  virtual void all_reduce(void* data, int64_t count, Elem e, ReduceOp op) = 0;
  // send [size·count]: block r of the sum over ranks lands in recv [count] of rank r.
  virtual void reduce_scatter(const void* send, void* recv, int64_t count, Elem e) = 0;
  // recv [Σ counts] = every rank's send [counts[rank]], in rank order.
  virtual void all_gather(const void* send, void* recv, const std::vector<int64_t>& counts, Elem e) = 0;
  virtual void broadcast(void* data, int64_t count, Elem e, int root) = 0;
  // Point to point (pipeline stage transfers): matched by (peer, tag).
  virtual void send(const void* data, int64_t count, Elem e, int dst, int tag) = 0;
  virtual void recv(void* data, int64_t count, Elem e, int src, int tag) = 0;
  // Non-blocking forms (a pipeline's batch of sends and receives, posted together and waited on
  // together so that two stages sending to each other do not deadlock); the buffer must stay
  // alive until wait(). Backends without them send or receive at once.
  virtual std::unique_ptr<Request> send_start(const void* data, int64_t count, Elem e, int dst, int tag);
  virtual std::unique_ptr<Request> recv_start(void* data, int64_t count, Elem e, int src, int tag);
  // All-to-all with per-peer counts: send holds send_counts[0] elements for rank 0, then rank
  // 1's, ...; recv receives recv_counts[r] elements from each rank r, in rank order.
  virtual std::unique_ptr<Request> all_to_all_start(const void* send, const std::vector<int64_t>& send_counts,
                                                    void* recv, const std::vector<int64_t>& recv_counts, Elem e) = 0;
  void all_to_all(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                  const std::vector<int64_t>& recv_counts, Elem e) {
    all_to_all_start(send, send_counts, recv, recv_counts, e)->wait();
  }

  // Typed conveniences.
  template <typename T> void all_reduce(T* data, int64_t count, ReduceOp op = ReduceOp::Sum) {
    all_reduce(data, count, elem_of<T>(), op);
  }
  template <typename T> std::vector<T> all_gather(const std::vector<T>& mine) {  // equal counts
    std::vector<T> all(mine.size() * size_t(size()));
    all_gather(mine.data(), all.data(), std::vector<int64_t>(size_t(size()), int64_t(mine.size())), elem_of<T>());
    return all;
  }
  // counts[r] = what rank r sends to this rank, given what this rank sends to each.
  std::vector<int64_t> exchange_counts(const std::vector<int64_t>& send_counts);
};

// The single-process group (size 1): every collective is a copy.
std::unique_ptr<Communicator> local_communicator();

}  // namespace dsv3::dist
