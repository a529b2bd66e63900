// Several processes of one job (torch-free): where this process stands in a job (world size, rank,
// rendezvous address, from flags or the environment variables torchrun-style launchers set), and
// the local launcher behind `--nproc N`, which starts N copies of the running program as ranks
// 0..N-1 on this machine, watches them, and ends the job with a clear message when one of them
// fails. The collectives themselves are in train/distributed.h.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace loid {

// A rank's exit status when its job failed because another rank was lost (a collective failed):
// the launcher then names a rank that failed for another reason as the one lost first.
constexpr int kPeerLostExitCode = 3;

// Thrown by collectives when a peer is gone; main() exits with kPeerLostExitCode.
class PeerLostError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The flags of a command that can run as several processes.
struct DistOptions {
  int nproc = 1;          // --nproc: local ranks to start (1 = none; this process does the work)
  int world_size = 0;     // --world-size (0 = WORLD_SIZE from the environment, else 1)
  int process_rank = -1;  // --process-rank (-1 = RANK from the environment)
  std::string master;     // --master HOST:PORT (else MASTER_ADDR and MASTER_PORT)
  double timeout_seconds = 300;  // --dist-timeout: the longest wait for a peer in a collective
};

// This process's place in a job.
struct DistJob {
  int world_size = 1;
  int rank = 0;
  int local_rank = 0;
  int local_world_size = 1;  // ranks on this machine (LOCAL_WORLD_SIZE; threads are split by it)
  std::string host = "127.0.0.1";
  int port = 0;
  double timeout_seconds = 300;
  bool distributed() const { return world_size > 1; }
};

// True when this process should start the local ranks itself: --nproc > 1 and it is not one of
// the ranks a launcher started.
bool should_launch_local_ranks(const DistOptions& options);

// This process's job from the flags, falling back on WORLD_SIZE, RANK, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT. A single process (world size 1) needs none.
// Throws UsageError naming the flag or variable that is missing or wrong (a rank outside
// [0, world size), a port outside 1-65535, --master without a port).
DistJob resolve_dist_job(const DistOptions& options);

// "HOST:PORT" -> host and port; throws UsageError.
void parse_master(const std::string& text, std::string& host, int& port);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released).
int free_local_port();

// In a rank that launch_local_ranks started: arranges for the rank to be killed when its launcher
// dies (even by SIGKILL), and exits at once when the launcher is already gone. No-op otherwise.
void bind_to_launcher();

// Starts `nproc` copies of `program` with `args` (args[0] included) as ranks 0..nproc-1 of a job
// on 127.0.0.1, each with the environment of this process plus MASTER_ADDR, MASTER_PORT,
// WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE, LOID_LAUNCHED_RANK and LOID_LAUNCHER_PID (see
// bind_to_launcher); their output goes where
// this process's goes. Waits for all of them. When one exits with an error or is killed, the
// others are given `grace_seconds` to stop on their own (their collectives fail at once when the
// peer's connection drops), then terminated; SIGINT and SIGTERM to the launcher are passed on.
// Returns 0 when every rank succeeded, else the first failure's exit code (128 + signal when
// killed), after writing one line per failed rank to stderr ("rank 1 (pid 123) was killed by
// signal 9 (Killed)").
int launch_local_ranks(int nproc, const std::string& program, const std::vector<std::string>& args,
                       double grace_seconds = 20.0);

}  // namespace loid
