#pragma once
// One search over many processes: under mpirun (or srun with an MPI launcher), process 0 runs the
// search and writes the database, and every other process evaluates the candidates it is sent.
// This is the thin layer over MPI that both sides use. Messages are byte strings; every MPI call
// goes through one lock, so any thread may send or receive.
#include <cstddef>
#include <optional>
#include <string>

namespace nascent::cluster {

// True when this process was started by an MPI launcher with more than one process (the
// launcher's environment says so before MPI is initialised) and nascent was built with MPI.
bool launched();
// Initialises MPI once (thread level: serialised through the lock). Without launched(), nothing.
void start();
// This process's rank and the number of processes: 0 and 1 without a launcher.
int rank();
int size();
// The processes of the job on this machine (1 when the launcher does not say).
int local_size();
// Whether this build has MPI at all (CMake option NASCENT_MPI).
bool available();

// Tags of the messages the search and its evaluating processes exchange.
constexpr int kJobTag = 1;
constexpr int kResultTag = 2;

void send(int to, int tag, const std::string& bytes);
// The next message from `from` with `tag`, waiting for it (polling, so that the lock is free
// meanwhile for other threads' messages).
std::string receive(int from, int tag);

// Collectives over every process of the job, for data-parallel training (core/data_parallel.hpp):
// every process calls them in the same order. Sums `count` values in place, so that every process
// holds the same sums.
void sum_in_place(float* values, std::size_t count);
void sum_in_place(double* values, std::size_t count);
// Process 0's `bytes`, on every process.
std::string broadcast_from_first(const std::string& bytes);

// Process 0: tells every other process to stop serving, once. Called when the search ends, and at
// exit, so that an error on process 0 never leaves the others waiting.
void release_workers();
// Ends MPI (after release_workers() on process 0). Registered at exit by start().
void stop();

}  // namespace nascent::cluster
