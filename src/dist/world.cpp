#include "dist/world.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"
#include "dist/mpi_comm.h"

namespace dsv3::dist {

namespace {

std::unique_ptr<Communicator>& world_slot() {
  static std::unique_ptr<Communicator> w;
  return w;
}

bool g_failed_everywhere = false;

int launcher_world_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return std::getenv("PMIX_RANK") ? 1 : 0;
}

#ifdef DSV3_WITH_MPI
// When one rank dies (kill -9, a crash), mpirun ends the others with SIGTERM and then reports
// the dead rank. Rank 0 first says, in dsv3's words, why the job is ending. The message is
// formatted in advance: a signal handler may only write(2).
char g_stop_message[256];
int g_stop_length = 0;

extern "C" void on_stop_signal(int sig) {
  if (g_stop_length > 0) (void)!write(2, g_stop_message, size_t(g_stop_length));
  _exit(128 + sig);
}

void say_why_when_stopped(int rank, int size) {
  if (rank != 0) return;
  g_stop_length = std::snprintf(g_stop_message, sizeof g_stop_message,
                                "dsv3: the job of %d ranks is ending: another rank died or mpirun was interrupted "
                                "(mpirun names the rank); a training run resumes from its last checkpoint\n",
                                size);
  std::signal(SIGTERM, on_stop_signal);
}
#endif

}  // namespace

bool built_with_mpi() {
#ifdef DSV3_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool launched_by_mpirun() { return launcher_world_size() > 0; }
int launched_ranks() { return launcher_world_size(); }

int launched_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

Communicator& world() {
  auto& w = world_slot();
  if (w) return *w;
#ifdef DSV3_WITH_MPI
  if (launched_by_mpirun()) {
    w = mpi_world();
    say_why_when_stopped(w->rank(), w->size());
    return *w;
  }
#else
  if (launcher_world_size() > 1)
    fail("started by mpirun with ", launcher_world_size(), " ranks, but this dsv3 was built without MPI "
         "(install libopenmpi-dev and reconfigure)");
#endif
  return *(w = local_communicator());
}

ThreadLevel world_thread_level() {
#ifdef DSV3_WITH_MPI
  if (world_is_distributed()) return mpi_thread_level();
#endif
  return ThreadLevel::kMultiple;
}

std::string serialized_threads_problem(ThreadLevel provided) {
  if (provided >= ThreadLevel::kSerialized) return "";
  const char* names[] = {"MPI_THREAD_SINGLE", "MPI_THREAD_FUNNELED"};
  return cat("this MPI does not support MPI_THREAD_SERIALIZED (it provides ", names[int(provided)],
             "), which serve --ep and train --pp --ep need: a second thread communicates (serve's scheduler; DualPipe's paired "
             "chunks) (rebuild OpenMPI with thread support)");
}

bool world_is_distributed() { return world_slot() && world_slot()->size() > 1; }

void quiet_other_ranks() {
  if (world().rank() != 0 && !std::freopen("/dev/null", "w", stdout)) fail("cannot silence stdout of rank ", world().rank());
}

void fail_on_every_rank(const std::string& message) {
  g_failed_everywhere = true;
  throw Error(message);
}

void check_same_everywhere(Communicator& comm, uint64_t value, const std::string& what) {
  std::vector<int64_t> all(size_t(comm.size()));
  const int64_t v = int64_t(value);
  comm.all_gather(&v, all.data(), std::vector<int64_t>(size_t(comm.size()), 1), Elem::I64);
  for (int r = 1; r < comm.size(); ++r)
    if (all[size_t(r)] != all[0])
      fail_on_every_rank(cat("rank ", r, " was given a different ", what, " than rank 0 (every rank must get the same)"));
}

Groups make_groups(Communicator& w, const Layout& l) {
  const uint64_t h = fnv1a(&l, sizeof l);
  check_same_everywhere(w, h, "layout (--dp/--pp/--ep)");
  if (l.dp < 1 || l.pp < 1 || l.ep < 1) fail_on_every_rank("--dp, --pp and --ep must be at least 1");
  if (int64_t(l.dp) * l.pp != w.size())
    fail_on_every_rank(cat("layout --dp ", l.dp, " × --pp ", l.pp, " = ", l.dp * l.pp, " ranks, but the job has ",
                           w.size(), " (mpirun -np)"));
  if (l.dp % l.ep != 0)
    fail_on_every_rank(cat("--ep ", l.ep, " does not divide the ", l.dp, " data-parallel ranks"));
  Groups g;
  g.layout = l;
  g.pp_rank = w.rank() / l.dp;
  g.dp_rank = w.rank() % l.dp;
  g.ep_rank = g.dp_rank % l.ep;
  g.data = w.split(g.pp_rank, g.dp_rank);
  g.pipeline = w.split(g.dp_rank, g.pp_rank);
  g.expert = w.split(g.pp_rank * (l.dp / l.ep) + g.dp_rank / l.ep, g.ep_rank);
  return g;
}

void report_error(const char* command, const std::string& message) {
  if (!world_is_distributed()) {
    if (launcher_world_size() > 1)  // failed before the world opened
      std::fprintf(stderr, "dsv3 %s: error on rank %d: %s\n", command, launched_rank(), message.c_str());
    else
      std::fprintf(stderr, "dsv3 %s: error: %s\n", command, message.c_str());
    return;
  }
  const int rank = world_slot()->rank();
  if (g_failed_everywhere) {  // every rank is here: rank 0 speaks, all exit non-zero
    if (rank == 0) std::fprintf(stderr, "dsv3 %s: error: %s\n", command, message.c_str());
    return;
  }
  std::fprintf(stderr, "dsv3 %s: error on rank %d: %s\n", command, rank, message.c_str());
  std::fflush(stderr);
#ifdef DSV3_WITH_MPI
  mpi_abort(1);
#endif
}

}  // namespace dsv3::dist
