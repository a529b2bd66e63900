// Where a process stands in a job, and the local launcher (see launch.h).
#include "core/launch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/error.h"

extern char** environ;

namespace loid {

namespace {

// An environment variable as an int: `fallback` when unset; UsageError when not a number.
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0') throw UsageError(std::string(name) + "='" + v + "' is not an integer");
  return static_cast<int>(x);
}

std::atomic<int> g_forwarded_signal{0};

void remember_signal(int sig) {
  g_forwarded_signal = sig;
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code_of(int status) {
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

bool should_launch_local_ranks(const DistOptions& o) {
  if (o.nproc < 1) throw UsageError("--nproc must be at least 1, got " + std::to_string(o.nproc));
  const char* launched = std::getenv("LOID_LAUNCHED_RANK");
  return o.nproc > 1 && (launched == nullptr || *launched == '\0');
}

void parse_master(const std::string& text, std::string& host, int& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw UsageError("--master must be HOST:PORT, got '" + text + "'");
  host = text.substr(0, colon);
  char* end = nullptr;
  const long p = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || p < 1 || p > 65535)
    throw UsageError("--master: port must be 1-65535, got '" + text.substr(colon + 1) + "'");
  port = static_cast<int>(p);
}

DistJob resolve_dist_job(const DistOptions& o) {
  DistJob job;
  job.timeout_seconds = o.timeout_seconds;
  if (o.timeout_seconds <= 0) throw UsageError("--dist-timeout must be positive");
  job.world_size = o.world_size > 0 ? o.world_size : env_int("WORLD_SIZE", 1);
  if (job.world_size < 1)
    throw UsageError("the world size must be at least 1, got " + std::to_string(job.world_size));
  if (job.world_size == 1) return job;
  job.rank = o.process_rank >= 0 ? o.process_rank : env_int("RANK", -1);
  if (job.rank < 0)
    throw UsageError("a job of " + std::to_string(job.world_size) +
                     " processes needs this process's rank: --process-rank R or RANK");
  if (job.rank >= job.world_size)
    throw UsageError("rank " + std::to_string(job.rank) + " is outside a world of " +
                     std::to_string(job.world_size) + " (ranks 0-" +
                     std::to_string(job.world_size - 1) + ")");
  job.local_rank = env_int("LOCAL_RANK", job.rank);
  job.local_world_size = std::max(1, env_int("LOCAL_WORLD_SIZE", 1));
  if (!o.master.empty()) {
    parse_master(o.master, job.host, job.port);
  } else {
    const char* addr = std::getenv("MASTER_ADDR");
    if (addr == nullptr || *addr == '\0')
      throw UsageError(
          "a job of several processes needs the rendezvous address: --master "
          "HOST:PORT or MASTER_ADDR and MASTER_PORT");
    job.host = addr;
    job.port = env_int("MASTER_PORT", 0);
    if (job.port < 1 || job.port > 65535)
      throw UsageError("MASTER_PORT must be 1-65535, got " + std::to_string(job.port));
  }
  return job;
}

void bind_to_launcher() {
  const char* launcher = std::getenv("LOID_LAUNCHER_PID");
  if (launcher == nullptr || *launcher == '\0') return;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The launcher may have died before the line above: then this process has another parent.
  if (std::to_string(::getppid()) != launcher) std::_Exit(128 + SIGKILL);
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw Error("cannot find a free local port: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

int launch_local_ranks(int nproc, const std::string& program, const std::vector<std::string>& args,
                       double grace_seconds) {
  if (nproc < 1) throw UsageError("--nproc must be at least 1");
  const int port = free_local_port();
  std::vector<pid_t> pids(static_cast<std::size_t>(nproc), -1);
  std::vector<int> statuses(pids.size(), 0);
  std::vector<bool> done(pids.size(), false);

  // SIGINT / SIGTERM to the launcher stop the ranks too.
  struct sigaction sa {};
  sa.sa_handler = remember_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  auto kill_all = [&](int sig) {
    for (std::size_t r = 0; r < pids.size(); ++r)
      if (pids[r] > 0 && !done[r]) ::kill(pids[r], sig);
  };
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (key == "MASTER_ADDR" || key == "MASTER_PORT" || key == "WORLD_SIZE" || key == "RANK" ||
          key == "LOCAL_RANK" || key == "LOCAL_WORLD_SIZE" || key == "LOID_LAUNCHED_RANK" ||
          key == "LOID_LAUNCHER_PID")
        continue;
      env_strings.push_back(kv);
    }
    env_strings.push_back("MASTER_ADDR=127.0.0.1");
    env_strings.push_back("MASTER_PORT=" + std::to_string(port));
    env_strings.push_back("WORLD_SIZE=" + std::to_string(nproc));
    env_strings.push_back("RANK=" + std::to_string(r));
    env_strings.push_back("LOCAL_RANK=" + std::to_string(r));
    env_strings.push_back("LOCAL_WORLD_SIZE=" + std::to_string(nproc));
    env_strings.push_back("LOID_LAUNCHED_RANK=" + std::to_string(r));
    env_strings.push_back("LOID_LAUNCHER_PID=" + std::to_string(::getpid()));
    std::vector<char*> envp, argv;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> arg_copy = args;
    for (auto& a : arg_copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, program.c_str(), nullptr, nullptr, argv.data(), envp.data());
    if (rc != 0) {
      kill_all(SIGTERM);
      for (std::size_t q = 0; q < pids.size(); ++q)
        if (pids[q] > 0) ::waitpid(pids[q], nullptr, 0);
      sigaction(SIGINT, &old_int, nullptr);
      sigaction(SIGTERM, &old_term, nullptr);
      throw Error("cannot start rank " + std::to_string(r) + " (" + program +
                  "): " + std::strerror(rc));
    }
    pids[static_cast<std::size_t>(r)] = pid;
  }

  using clock = std::chrono::steady_clock;
  const auto failed = [](int status) { return !(WIFEXITED(status) && WEXITSTATUS(status) == 0); };
  // A rank whose collective failed because a peer was lost exits with kPeerLostExitCode: it is a
  // consequence, so the rank lost first is the first that failed otherwise.
  const auto secondary = [](int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == kPeerLostExitCode;
  };
  std::vector<int> failure_order;  // ranks in the order their failures were seen
  clock::time_point failed_at{};
  bool stopping = false, terminated = false, killed = false;
  int remaining = nproc;
  while (remaining > 0) {
    bool reaped = false;
    // An interruption of the launcher first: the ranks may have had the same signal from the
    // terminal, and their deaths are then not failures of their own.
    if (g_forwarded_signal != 0 && !terminated) {
      kill_all(g_forwarded_signal.load());
      terminated = stopping = true;
      failed_at = clock::now();
    }
    for (std::size_t r = 0; r < pids.size(); ++r) {
      if (done[r]) continue;
      int status = 0;
      const pid_t got = ::waitpid(pids[r], &status, WNOHANG);
      if (got == 0) continue;
      done[r] = true;
      --remaining;
      reaped = true;
      statuses[r] = got == pids[r] ? status : 0;  // -1: not our child any more; nothing to report
      if (got == pids[r] && failed(status) && g_forwarded_signal == 0) {
        failure_order.push_back(static_cast<int>(r));
        std::fprintf(stderr, "loid: rank %zu (pid %d) %s\n", r, static_cast<int>(pids[r]),
                     describe_status(status).c_str());
        if (!stopping) {
          stopping = true;
          failed_at = clock::now();
        }
      }
    }
    if (stopping && !terminated &&
        clock::now() - failed_at > std::chrono::duration<double>(grace_seconds)) {
      kill_all(SIGTERM);
      terminated = true;
      failed_at = clock::now();
    }
    if (terminated && !killed && clock::now() - failed_at > std::chrono::seconds(5)) {
      kill_all(SIGKILL);
      killed = true;
    }
    if (!reaped && remaining > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  const int interrupted = g_forwarded_signal.exchange(0);
  if (interrupted != 0) {
    std::fprintf(stderr, "loid: interrupted (signal %d); the ranks were stopped\n", interrupted);
    return 128 + interrupted;
  }
  if (failure_order.empty()) return 0;
  int first = failure_order.front();
  for (int r : failure_order)
    if (!secondary(statuses[static_cast<std::size_t>(r)])) {
      first = r;
      break;
    }
  std::fprintf(stderr, "loid: the job failed: rank %d was lost first\n", first);
  const int code = exit_code_of(statuses[static_cast<std::size_t>(first)]);
  return code == 0 ? 1 : code;
}

}  // namespace loid
