// The MPI backend's entry points (only declared usefully when built with MPI; see world.cpp).
#pragma once
#include <memory>

#include "dist/comm.h"
#include "dist/world.h"

namespace dsv3::dist {

// MPI_COMM_WORLD (initialising MPI on first use; MPI_Finalize runs at exit).
std::unique_ptr<Communicator> mpi_world();
// The thread support MPI_Init_thread provided (asked for: SERIALIZED); valid after mpi_world().
ThreadLevel mpi_thread_level();
// Ends every rank of the job now (after an error only some ranks saw).
[[noreturn]] void mpi_abort(int code);

}  // namespace dsv3::dist
