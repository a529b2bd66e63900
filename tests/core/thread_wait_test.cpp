// The thread-wait plan: which variables are set and when the executable re-executes itself; and,
// end to end, that `loid` runs with them: a `loid` process started without them is observed
// through /proc/<pid>/environ after it re-executed itself.
#include "core/thread_wait.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "support/test_paths.h"

extern char** environ;

namespace loid {
namespace {

ThreadWaitPlan plan_for(const std::map<std::string, std::string>& env) {
  return plan_thread_wait([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(ThreadWait, SetsBothAndReexecutesByDefault) {
  for (const auto& env : {std::map<std::string, std::string>{},
                          std::map<std::string, std::string>{{"LOID_THREAD_WAIT", ""}},
                          std::map<std::string, std::string>{{"LOID_THREAD_WAIT", "passive"}}}) {
    const ThreadWaitPlan p = plan_for(env);
    EXPECT_TRUE(p.reexec);
    ASSERT_EQ(p.set.size(), 2u);
    EXPECT_EQ(p.set[0], std::make_pair(std::string("OMP_WAIT_POLICY"), std::string("PASSIVE")));
    EXPECT_EQ(p.set[1], std::make_pair(std::string("OPENBLAS_THREAD_TIMEOUT"), std::string("4")));
  }
}

TEST(ThreadWait, KeepsTheUsersValuesAndNeverLoops) {
  // One set by the user: only the other is added.
  ThreadWaitPlan p = plan_for({{"OMP_WAIT_POLICY", "ACTIVE"}});
  EXPECT_TRUE(p.reexec);
  ASSERT_EQ(p.set.size(), 1u);
  EXPECT_EQ(p.set[0].first, "OPENBLAS_THREAD_TIMEOUT");
  // Both set: nothing to do.
  p = plan_for({{"OMP_WAIT_POLICY", "ACTIVE"}, {"OPENBLAS_THREAD_TIMEOUT", "20"}});
  EXPECT_FALSE(p.reexec);
  EXPECT_TRUE(p.set.empty());
  // The re-executed process does not re-execute, whatever else holds.
  p = plan_for({{"LOID_THREAD_WAIT_APPLIED", "1"}});
  EXPECT_FALSE(p.reexec);
  EXPECT_EQ(p.reason, "already applied");
  // Opt-out.
  p = plan_for({{"LOID_THREAD_WAIT", "spin"}});
  EXPECT_FALSE(p.reexec);
  EXPECT_TRUE(p.set.empty());
}

TEST(ThreadWait, UnknownChoiceIsAUsageErrorNamingTheVariable) {
  try {
    plan_for({{"LOID_THREAD_WAIT", "busy"}});
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("LOID_THREAD_WAIT=busy"), std::string::npos);
  }
}

// The NUL-separated entries of /proc/<pid>/<what> (environ or cmdline); empty when unreadable.
std::vector<std::string> proc_entries(pid_t pid, const char* what) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/" + what, std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  std::istringstream ss(all);
  for (std::string e; std::getline(ss, e, '\0');) out.push_back(e);
  return out;
}

std::map<std::string, std::string> as_map(const std::vector<std::string>& env) {
  std::map<std::string, std::string> m;
  for (const auto& e : env) {
    const auto eq = e.find('=');
    if (eq != std::string::npos) m[e.substr(0, eq)] = e.substr(eq + 1);
  }
  return m;
}

struct Observed {
  std::map<std::string, std::string> env;  // of the re-executed process
  std::vector<std::string> cmdline;        // of the re-executed process
  int exit_status = -1;
  std::string out;   // what it wrote to stdout
  std::string note;  // why the environment was not observed, when it was not
};

// Starts `loid data stats --json /dev/stdin` with this process's environment minus the
// thread-wait variables, plus `extra`. While the process waits for its input (a pipe), reads its
// environment and command line through /proc once the re-execution marker appears (or 20 s
// passed); then writes `input`, closes the pipe and waits for the process.
Observed run_loid_without_thread_wait_variables(const std::vector<std::string>& extra,
                                                const std::string& input) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    if (name != kOmpWaitPolicy && name != kOpenblasThreadTimeout && name != kReexecMarker &&
        name != "LOID_THREAD_WAIT")
      env_text.push_back(entry);
  }
  env_text.insert(env_text.end(), extra.begin(), extra.end());
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {testing::cli_path(), "data", "stats", "--json", "/dev/stdin"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  Observed o;
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return o;
  }
  const pid_t pid = fork();
  if (pid == 0) {  // the child: only async-signal-safe calls until execve
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]);
    close(in[1]);
    close(out[0]);
    close(out[1]);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 0;
  bool exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    o.env = as_map(proc_entries(pid, "environ"));
    if (o.env.count(kReexecMarker)) break;
    if ((exited = waitpid(pid, &status, WNOHANG) == pid)) break;  // e.g. execve failed
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (exited)
    o.note = "loid exited (status " + std::to_string(status) + ") before it re-executed itself";
  else if (!o.env.count(kReexecMarker))
    o.note = "loid did not re-execute itself within 20 s";
  o.cmdline = proc_entries(pid, "cmdline");
  // A process that is gone must fail the test, not kill it with SIGPIPE.
  const auto old_handler = std::signal(SIGPIPE, SIG_IGN);
  const ssize_t written = write(in[1], input.data(), input.size());
  std::signal(SIGPIPE, old_handler);
  if (!exited) EXPECT_EQ(written, static_cast<ssize_t>(input.size()));
  close(in[1]);
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) o.out.append(buf, n);
  close(out[0]);
  if (!exited) waitpid(pid, &status, 0);
  o.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

TEST(ThreadWait, LoidReexecutesItselfWithBothVariables) {
  LOID_REQUIRE_CLI();
  const std::string input = read_file(testing::fixture("reviews/amazon2014_sample.json"));
  const Observed o = run_loid_without_thread_wait_variables({}, input);
  ASSERT_EQ(o.env.count(kReexecMarker), 1u) << o.note;
  EXPECT_EQ(o.env.at(kReexecMarker), "1");
  EXPECT_EQ(o.env.count(kOmpWaitPolicy) ? o.env.at(kOmpWaitPolicy) : "(unset)", "PASSIVE");
  EXPECT_EQ(o.env.count(kOpenblasThreadTimeout) ? o.env.at(kOpenblasThreadTimeout) : "(unset)",
            "4");
  // The same program with the same arguments, and it does its job.
  EXPECT_EQ(o.cmdline, (std::vector<std::string>{testing::cli_path(), "data", "stats", "--json",
                                                 "/dev/stdin"}));
  ASSERT_EQ(o.exit_status, 0) << o.out;
  EXPECT_EQ(nlohmann::json::parse(o.out).at("records"), 3);  // as ReaderTest.Amazon2014JsonLines
}

TEST(ThreadWait, LoidKeepsTheUsersValueAndAddsTheOther) {
  LOID_REQUIRE_CLI();
  const std::string input = read_file(testing::fixture("reviews/amazon2014_sample.json"));
  const Observed o =
      run_loid_without_thread_wait_variables({std::string(kOmpWaitPolicy) + "=ACTIVE"}, input);
  ASSERT_EQ(o.env.count(kReexecMarker), 1u) << o.note;
  EXPECT_EQ(o.env.at(kOmpWaitPolicy), "ACTIVE");
  EXPECT_EQ(o.env.count(kOpenblasThreadTimeout) ? o.env.at(kOpenblasThreadTimeout) : "(unset)",
            "4");
  EXPECT_EQ(o.exit_status, 0) << o.out;
}

}  // namespace
}  // namespace loid
