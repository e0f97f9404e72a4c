// The MPI backend (built when CMake finds MPI). One thread at a time calls it
// (MPI_THREAD_SERIALIZED): OpenMP workers compute, one thread communicates — the main thread,
// or serve's scheduler thread on rank 0 (the main thread then waits for it to end).
#include "dist/mpi_comm.h"

#include <mpi.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace dsv3::dist {

namespace {

MPI_Datatype mpi_type(Elem e) {
  switch (e) {
    case Elem::U8: return MPI_UINT8_T;
    case Elem::I32: return MPI_INT32_T;
    case Elem::I64: return MPI_INT64_T;
    case Elem::F32: return MPI_FLOAT;
    case Elem::F64: return MPI_DOUBLE;
  }
  return MPI_BYTE;
}

// MPI counts are int: larger messages must be split by the caller.
int mpi_count(int64_t n) {
  if (n < 0 || n > INT_MAX) fail("message of ", n, " elements exceeds MPI's int count");
  return int(n);
}

std::vector<int> mpi_counts(const std::vector<int64_t>& counts, std::vector<int>* displs) {
  std::vector<int> c(counts.size());
  displs->assign(counts.size(), 0);
  int64_t at = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    c[i] = mpi_count(counts[i]);
    (*displs)[i] = mpi_count(at);
    at += counts[i];
  }
  return c;
}

class MpiRequest final : public Request {
 public:
  std::vector<int> send_counts, send_displs, recv_counts, recv_displs;  // alive until done
  MPI_Request req = MPI_REQUEST_NULL;
  ~MpiRequest() override { wait(); }
  void wait() override {
    if (req != MPI_REQUEST_NULL) MPI_Wait(&req, MPI_STATUS_IGNORE);
  }
  bool test() override {
    int done = 1;
    if (req != MPI_REQUEST_NULL) MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    return done != 0;
  }
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm c) : comm_(c) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::unique_ptr<Communicator> split(int color, int key) const override {
    MPI_Comm c;
    MPI_Comm_split(comm_, color, key, &c);
    return std::make_unique<MpiCommunicator>(c);
  }
  void barrier() override { MPI_Barrier(comm_); }
  void all_reduce(void* data, int64_t count, Elem e, ReduceOp op) override {
    MPI_Allreduce(MPI_IN_PLACE, data, mpi_count(count), mpi_type(e), op == ReduceOp::Sum ? MPI_SUM : MPI_MAX, comm_);
  }
  void reduce_scatter(const void* send, void* recv, int64_t count, Elem e) override {
    MPI_Reduce_scatter_block(send, recv, mpi_count(count), mpi_type(e), MPI_SUM, comm_);
  }
  void all_gather(const void* send, void* recv, const std::vector<int64_t>& counts, Elem e) override {
    std::vector<int> displs;
    const std::vector<int> c = mpi_counts(counts, &displs);
    MPI_Allgatherv(send, c[size_t(rank_)], mpi_type(e), recv, c.data(), displs.data(), mpi_type(e), comm_);
  }
  void broadcast(void* data, int64_t count, Elem e, int root) override {
    MPI_Bcast(data, mpi_count(count), mpi_type(e), root, comm_);
  }
  void send(const void* data, int64_t count, Elem e, int dst, int tag) override {
    MPI_Send(data, mpi_count(count), mpi_type(e), dst, tag, comm_);
  }
  void recv(void* data, int64_t count, Elem e, int src, int tag) override {
    MPI_Status st;
    MPI_Recv(data, mpi_count(count), mpi_type(e), src, tag, comm_, &st);
    int got = 0;
    MPI_Get_count(&st, mpi_type(e), &got);
    if (got != count) fail("recv from rank ", src, " with tag ", tag, ": ", got, " elements, expected ", count);
  }
  std::unique_ptr<Request> send_start(const void* data, int64_t count, Elem e, int dst, int tag) override {
    auto r = std::make_unique<MpiRequest>();
    MPI_Isend(data, mpi_count(count), mpi_type(e), dst, tag, comm_, &r->req);
    return r;
  }
  std::unique_ptr<Request> recv_start(void* data, int64_t count, Elem e, int src, int tag) override {
    auto r = std::make_unique<MpiRequest>();
    MPI_Irecv(data, mpi_count(count), mpi_type(e), src, tag, comm_, &r->req);
    return r;
  }
  std::unique_ptr<Request> all_to_all_start(const void* send, const std::vector<int64_t>& send_counts, void* recv,
                                            const std::vector<int64_t>& recv_counts, Elem e) override {
    auto r = std::make_unique<MpiRequest>();
    r->send_counts = mpi_counts(send_counts, &r->send_displs);
    r->recv_counts = mpi_counts(recv_counts, &r->recv_displs);
    MPI_Ialltoallv(send, r->send_counts.data(), r->send_displs.data(), mpi_type(e), recv, r->recv_counts.data(),
                   r->recv_displs.data(), mpi_type(e), comm_, &r->req);
    return r;
  }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

ThreadLevel g_thread_level = ThreadLevel::kMultiple;

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace

std::unique_ptr<Communicator> mpi_world() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    std::atexit(finalize_at_exit);
  }
  int provided = MPI_THREAD_SINGLE;
  MPI_Query_thread(&provided);
  g_thread_level = provided == MPI_THREAD_SINGLE ? ThreadLevel::kSingle
                   : provided == MPI_THREAD_FUNNELED ? ThreadLevel::kFunneled
                   : provided == MPI_THREAD_SERIALIZED ? ThreadLevel::kSerialized
                                                        : ThreadLevel::kMultiple;
  MPI_Comm c;
  MPI_Comm_dup(MPI_COMM_WORLD, &c);
  return std::make_unique<MpiCommunicator>(c);
}

ThreadLevel mpi_thread_level() { return g_thread_level; }

[[noreturn]] void mpi_abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace dsv3::dist
