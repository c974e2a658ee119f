#include "core/cluster.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/error.hpp"

#ifdef NASCENT_WITH_MPI
#include <mpi.h>
#endif

namespace nascent::cluster {

namespace {

std::mutex& lock() {
  static std::mutex mutex;
  return mutex;
}
bool started = false, released = false;
int world_rank = 0, world_size = 1;

int launcher_size() {
  // Open MPI, then PMI-based launchers (MPICH's hydra, Slurm's srun --mpi=pmi2 or pmix).
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* value = std::getenv(name)) return std::atoi(value);
  return 1;
}

}  // namespace

bool available() {
#ifdef NASCENT_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool launched() { return available() && launcher_size() > 1; }

void start() {
  std::lock_guard<std::mutex> guard(lock());
  if (started || !launched()) return;
#ifdef NASCENT_WITH_MPI
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
  if (provided < MPI_THREAD_SERIALIZED) throw Error("MPI: the library cannot be called from several threads (thread level " + std::to_string(provided) + ")");
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  started = true;
  std::atexit([] {
    release_workers();
    stop();
  });
#endif
}

int rank() { return world_rank; }
int size() { return world_size; }

int local_size() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* value = std::getenv(name)) return std::max(1, std::atoi(value));
  return 1;
}

void send(int to, int tag, const std::string& bytes) {
#ifdef NASCENT_WITH_MPI
  std::lock_guard<std::mutex> guard(lock());
  if (!started) throw Error("MPI: not started");
  MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, to, tag, MPI_COMM_WORLD);
#else
  (void)to, (void)tag, (void)bytes;
  throw Error("MPI: this nascent was built without MPI (NASCENT_MPI=OFF)");
#endif
}

std::string receive(int from, int tag) {
#ifdef NASCENT_WITH_MPI
  for (auto pause = std::chrono::microseconds(50);; pause = std::min(pause * 2, std::chrono::microseconds(1000))) {
    {
      std::lock_guard<std::mutex> guard(lock());
      if (!started) throw Error("MPI: not started");
      int ready = 0;
      MPI_Status status;
      MPI_Iprobe(from, tag, MPI_COMM_WORLD, &ready, &status);
      if (ready) {
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        std::string bytes(static_cast<std::size_t>(count), '\0');
        MPI_Recv(bytes.data(), count, MPI_BYTE, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        return bytes;
      }
    }
    std::this_thread::sleep_for(pause);
  }
#else
  (void)from, (void)tag;
  throw Error("MPI: this nascent was built without MPI (NASCENT_MPI=OFF)");
#endif
}

namespace {

#ifdef NASCENT_WITH_MPI
template <typename T>
void sum_values(T* values, std::size_t count, MPI_Datatype type) {
  std::lock_guard<std::mutex> guard(lock());
  if (!started) throw Error("MPI: not started");
  // MPI counts are ints: large buffers go in pieces.
  constexpr std::size_t kPiece = std::size_t{1} << 30;
  for (std::size_t begin = 0; begin < count; begin += kPiece)
    MPI_Allreduce(MPI_IN_PLACE, values + begin, static_cast<int>(std::min(kPiece, count - begin)), type, MPI_SUM, MPI_COMM_WORLD);
}
#endif

}  // namespace

void sum_in_place(float* values, std::size_t count) {
#ifdef NASCENT_WITH_MPI
  sum_values(values, count, MPI_FLOAT);
#else
  (void)values, (void)count;
  throw Error("MPI: this nascent was built without MPI (NASCENT_MPI=OFF)");
#endif
}

void sum_in_place(double* values, std::size_t count) {
#ifdef NASCENT_WITH_MPI
  sum_values(values, count, MPI_DOUBLE);
#else
  (void)values, (void)count;
  throw Error("MPI: this nascent was built without MPI (NASCENT_MPI=OFF)");
#endif
}

std::string broadcast_from_first(const std::string& bytes) {
#ifdef NASCENT_WITH_MPI
  std::lock_guard<std::mutex> guard(lock());
  if (!started) throw Error("MPI: not started");
  long long size = static_cast<long long>(bytes.size());
  MPI_Bcast(&size, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  std::string result = world_rank == 0 ? bytes : std::string(static_cast<std::size_t>(size), '\0');
  constexpr long long kPiece = 1LL << 30;
  for (long long begin = 0; begin < size; begin += kPiece)
    MPI_Bcast(result.data() + begin, static_cast<int>(std::min(kPiece, size - begin)), MPI_BYTE, 0, MPI_COMM_WORLD);
  return result;
#else
  (void)bytes;
  throw Error("MPI: this nascent was built without MPI (NASCENT_MPI=OFF)");
#endif
}

void release_workers() {
  if (!started || world_rank != 0 || released) return;
  released = true;
  for (int worker = 1; worker < world_size; ++worker) send(worker, kJobTag, "");
}

void stop() {
#ifdef NASCENT_WITH_MPI
  std::lock_guard<std::mutex> guard(lock());
  if (!started) return;
  started = false;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
#endif
}

}  // namespace nascent::cluster
