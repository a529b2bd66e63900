// How idle worker threads wait. Debian's libtorch runs its element-wise and reduction ops in an
// OpenMP (libgomp) pool and its float matrix multiplies in OpenBLAS's own pthread pool. By default
// both pools busy-wait between jobs: libgomp spins, OpenBLAS loops on sched_yield. With one worker
// per core in each pool, the idle pool's spinning takes the cores the busy pool needs (on 2 cores a
// LoRA training run spent about half its CPU time spinning or yielding). Passive waiting
// (OMP_WAIT_POLICY=PASSIVE, OPENBLAS_THREAD_TIMEOUT=4) makes idle workers sleep instead; results
// are unchanged, only the scheduling differs.
//
// Both libraries read these variables once, when they are loaded, before main() runs. So the
// `loid` executable sets them and re-executes itself (/proc/self/exe, same arguments) once, at the
// very start, when they are not already set.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace loid {

struct ThreadWaitPlan {
  std::vector<std::pair<std::string, std::string>> set;  // variables to set (unset ones only)
  bool reexec = false;  // re-execute so that the libraries read them
  std::string reason;   // why nothing is done, when set is empty
};

// The variables' names and the values used.
constexpr const char* kOmpWaitPolicy = "OMP_WAIT_POLICY";
constexpr const char* kOpenblasThreadTimeout = "OPENBLAS_THREAD_TIMEOUT";
constexpr const char* kPassiveOmp = "PASSIVE";
constexpr const char* kPassiveOpenblas = "4";  // 2^4 cycles of yielding before sleeping (min)
// Set by the re-executed process, so that it never re-executes again.
constexpr const char* kReexecMarker = "LOID_THREAD_WAIT_APPLIED";

// Decides from the environment (`get` returns nullptr for an unset variable):
// LOID_THREAD_WAIT unset, "" or "passive" -> set whichever of the two variables is unset and
// re-execute; "spin" -> leave the libraries' defaults. A variable the user set is kept as set.
// Nothing is done when the marker is present. Throws UsageError for another LOID_THREAD_WAIT.
ThreadWaitPlan plan_thread_wait(const std::function<const char*(const char*)>& get);

// plan_thread_wait on the process environment; sets the variables and re-executes /proc/self/exe
// with argv when the plan says so. Returns only when no re-execution happened (nothing to do, or
// exec failed: then a note goes to stderr and the run goes on with the libraries' defaults).
// Call first thing in main, before any thread starts.
void apply_thread_wait_from_environment(char** argv);

}  // namespace loid
