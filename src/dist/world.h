// The job: the world group of ranks, its split into data-parallel × pipeline-parallel groups
// with expert-parallel groups inside each data-parallel group, and how errors end the job.
//
//   world rank w = p·D + d      p: pipeline stage (0..P-1), d: data-parallel rank (0..D-1)
//   data group     = the D ranks of one stage (same p), ordered by d
//   pipeline group = the P ranks with the same d, ordered by p
//   expert group   = E consecutive data ranks (d / E equal), ordered by d mod E;
//                    each expert group holds every routed expert once, E ways split.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/hash.h"
#include "dist/comm.h"

namespace dsv3::dist {

// Whether this binary was built with the MPI backend.
bool built_with_mpi();
// Whether mpirun (or another PMI launcher) started this process, and with how many ranks (0:
// not launched by one). Read from the launcher's environment; MPI is not initialised.
bool launched_by_mpirun();
int launched_ranks();
int launched_rank();  // this process's rank in that job (0 when not launched)

// The world group: MPI's when launched by mpirun, else a single process. The first call
// initialises MPI; every rank must make it.
Communicator& world();
bool world_is_distributed();  // world() was opened and has more than one rank

// MPI's thread support levels, in MPI's order (MPI_THREAD_SINGLE ... MPI_THREAD_MULTIPLE).
enum class ThreadLevel { kSingle, kFunneled, kSerialized, kMultiple };
// The level the world was opened with (kMultiple for one process: it has no MPI).
ThreadLevel world_thread_level();
// Why a thread other than the one that opened the world may not make its calls (serve --ep's
// scheduler thread needs MPI_THREAD_SERIALIZED); empty when it may.
std::string serialized_threads_problem(ThreadLevel provided);

// Rank 0 owns the terminal: the other ranks' stdout goes to /dev/null.
void quiet_other_ranks();

struct Layout {
  int dp = 1, pp = 1, ep = 1;
};

struct Groups {
  Layout layout;
  int dp_rank = 0, pp_rank = 0, ep_rank = 0;
  std::unique_ptr<Communicator> data, pipeline, expert;
};

// Splits the world; fails on every rank (one line from rank 0) unless D·P equals the world
// size and E divides D. Collective: every rank calls it with its own layout, and ranks that
// were given different layouts are an error too.
Groups make_groups(Communicator& world, const Layout& layout);

// Collective: throws the same Error on every rank unless `value` (a hash of what each rank was
// given) is equal on all of them. `what` names it in the message.
void check_same_everywhere(Communicator& comm, uint64_t value, const std::string& what);

// Throws Error on every rank at once: the caller knows all ranks reach this line together,
// so the job can end cleanly with one message from rank 0 instead of an abort.
[[noreturn]] void fail_on_every_rank(const std::string& message);

// Prints `dsv3 <command>: error: <message>` and, under mpirun, ends the job: after an error
// every rank threw together (fail_on_every_rank) rank 0 alone prints and the ranks exit;
// after an error of one rank, that rank prints (naming itself) and aborts the others.
void report_error(const char* command, const std::string& message);

}  // namespace dsv3::dist
