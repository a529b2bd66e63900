// `loid train` as several processes (c10d, Gloo on the loopback), end to end through the
// executable: two ranks give one process's results, their parameters identical before every step
// (LOID_DIST_CHECK_PARAMS=1 makes each step compare them); a rank killed mid-run ends the job
// within seconds with an error that names it and no finished-looking run directory; ranks with
// other settings, a wrong world size, or a port in use stop with clear errors before any work.
// Skipped in a build without the executable.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/fs.h"
#include "core/launch.h"
#include "data/synth.h"
#include "io/safetensors.h"
#include "support/child_process.h"
#include "support/cli_runs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string make_corpus(const std::string& dir, std::int64_t users, std::int64_t items) {
  return testing::make_cli_corpus(dir, users, items);
}

// `loid train` on the tiny BERT with Re-LoRA, one thread per process.
std::vector<std::string> train_args(const std::string& data, const std::string& out,
                                    const char* epochs, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {testing::cli_path(), "train", "--data", data};
  for (const auto& f : testing::tiny_loid_flags(epochs, "6")) a.push_back(f);
  for (const std::string& f :
       {std::string("--relora-batch-size"), std::string("7"), std::string("--batch-size"),
        std::string("15"), std::string("--patience"), std::string(epochs), std::string("--out"),
        out})
    a.push_back(f);
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

int run_to_end(const std::vector<std::string>& args, const std::string& log) {
  return testing::run_cli_to_end(args, log);
}

json read_json(const std::string& path) {
  return testing::read_json_file(path);
}

// Sets environment variables for the children started while it lives.
class ScopedEnv {
 public:
  void set(const char* name, const std::string& value) {
    names_.push_back(name);
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const char* n : names_) unsetenv(n);
  }

 private:
  std::vector<const char*> names_;
};

// Two processes by hand, as a scheduler would start them: rank r with WORLD_SIZE, RANK,
// MASTER_ADDR and MASTER_PORT; `args_of(r)` its command.
std::vector<int> run_job_by_hand(int world, int port,
                                 const std::function<std::vector<std::string>(int)>& args_of,
                                 const std::string& log, int started = -1) {
  std::vector<std::unique_ptr<testing::ChildProcess>> ranks;
  for (int r = 0; r < (started < 0 ? world : started); ++r) {
    ScopedEnv env;
    env.set("WORLD_SIZE", std::to_string(world));
    env.set("RANK", std::to_string(r));
    env.set("MASTER_ADDR", "127.0.0.1");
    env.set("MASTER_PORT", std::to_string(port));
    ranks.push_back(std::make_unique<testing::ChildProcess>(args_of(r), log));
  }
  std::vector<int> codes;
  for (auto& c : ranks)
    codes.push_back(c->wait_for(std::chrono::seconds(120)) ? c->exit_code() : -1);
  return codes;
}

TEST(Distributed, TwoProcessesGiveOneProcesssResults) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("dist_equal");
  const std::string data = make_corpus(dir, 40, 15);
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(run_to_end(train_args(data, dir + "/one", "3"), log), 0) << read_file(log);
  {
    ScopedEnv env;
    env.set("LOID_DIST_CHECK_PARAMS", "1");  // every step: the ranks' parameters compared
    ASSERT_EQ(run_to_end(train_args(data, dir + "/two", "3", {"--nproc", "2"}), log), 0)
        << read_file(log);
  }
  const json one = read_json(dir + "/one/metrics.json");
  const json two = read_json(dir + "/two/metrics.json");
  EXPECT_EQ(two["processes"], 2);
  // The same steps up to the order of float sums (each rank sums its rows, then the ranks are
  // summed): within 1e-5 of a rating's MSE after Re-LoRA and three LoID epochs.
  constexpr double kTolerance = 1e-5;
  for (const char* part : {"test", "validation"})
    for (const char* m : {"mse", "mae"})
      EXPECT_NEAR(two[part][m].get<double>(), one[part][m].get<double>(), kTolerance) << part << m;
  EXPECT_NEAR(two["relora"]["validation_mse"].get<double>(),
              one["relora"]["validation_mse"].get<double>(), kTolerance);
  ASSERT_EQ(two["curve"].size(), one["curve"].size());
  for (std::size_t e = 0; e < one["curve"].size(); ++e) {
    EXPECT_NEAR(two["curve"][e]["validation_mse"].get<double>(),
                one["curve"][e]["validation_mse"].get<double>(), kTolerance);
    EXPECT_NEAR(two["curve"][e]["train_mse"].get<double>(),
                one["curve"][e]["train_mse"].get<double>(), kTolerance);
  }
  EXPECT_EQ(two["best_epoch"], one["best_epoch"]);
  // Rank 0 alone wrote: the one run directory, no file of another rank's.
  EXPECT_TRUE(fs::exists(dir + "/two/model.safetensors"));
  EXPECT_EQ(read_json(dir + "/two/config.json")["processes"], 2);
}

// `loid encode` and `loid pretrain` spread the same way: the vectors and the plugin's fit equal one
// process's.
TEST(Distributed, EncodeAndPretrainWithTwoProcesses) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("dist_encode");
  const std::string data = make_corpus(dir, 30, 15);
  const std::string log = dir + "/log.txt";
  const std::string cli = testing::cli_path(), bert = testing::golden("bert/tiny");
  for (const char* n : {"1", "2"})
    ASSERT_EQ(run_to_end({cli, "encode", "--encoder", bert, "--input", data, "--out",
                          dir + "/v" + n + ".safetensors", "--batch-size", "5", "--no-progress",
                          "--nproc", n},
                         log),
              0)
        << read_file(log);
  const auto one = SafeTensors::load(dir + "/v1.safetensors").to_f32("vectors");
  const auto two = SafeTensors::load(dir + "/v2.safetensors").to_f32("vectors");
  ASSERT_EQ(one.size(), two.size());
  ASSERT_FALSE(one.empty());
  for (std::size_t j = 0; j < one.size(); ++j) ASSERT_NEAR(one[j], two[j], 1e-5) << j;

  ScopedEnv env;
  env.set("LOID_DIST_CHECK_PARAMS", "1");
  for (const char* n : {"1", "2"})
    ASSERT_EQ(run_to_end({cli,
                          "pretrain",
                          "--data",
                          data,
                          "--encoder",
                          bert,
                          "--rank",
                          "4",
                          "--alpha",
                          "8",
                          "--epochs",
                          "2",
                          "--max-steps",
                          "5",
                          "--batch-size",
                          "9",
                          "--threads",
                          "1",
                          "--no-progress",
                          "--out",
                          dir + "/p" + n,
                          "--nproc",
                          n},
                         log),
              0)
        << read_file(log);
  const json m1 = read_json(dir + "/p1/loid_metadata.json")["metrics"];
  const json m2 = read_json(dir + "/p2/loid_metadata.json")["metrics"];
  EXPECT_EQ(m1["best_epoch"], m2["best_epoch"]);
  EXPECT_NEAR(m1["validation_mse"].get<double>(), m2["validation_mse"].get<double>(), 1e-5);
  EXPECT_NEAR(m1["test"]["mse"].get<double>(), m2["test"]["mse"].get<double>(), 1e-5);
  ASSERT_EQ(m1["curve"].size(), m2["curve"].size());
  for (std::size_t e = 0; e < m1["curve"].size(); ++e)
    EXPECT_NEAR(m1["curve"][e]["train_mse"].get<double>(),
                m2["curve"][e]["train_mse"].get<double>(), 1e-5);
}

// `loid bench --nproc 2`: rank 0 alone computes the classical cells and writes every file; the
// LoID cells (a plugin pretrained on the way, and an mf+text cell reusing its partner's text
// stage) are spread and equal one process's.
TEST(Distributed, BenchWithTwoProcesses) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("dist_bench");
  const std::string data = make_corpus(dir, 30, 15);
  const std::string log = dir + "/log.txt";
  for (const char* n : {"1", "2"}) {
    std::vector<std::string> a = train_args(data, dir + "/b" + std::string(n), "2");
    a[1] = "bench";  // the same LoID flags; bench's own below
    const std::vector<std::string> bench = {"--models",
                                            "mean,mf,loid,loid-mf,loid+plugin",
                                            "--seeds",
                                            "1,2",
                                            "--mf-factors",
                                            "2,4",
                                            "--mf-reg",
                                            "0.05,0.2",
                                            "--source",
                                            data,
                                            "--pretrain-max-steps",
                                            "3",
                                            "--pretrain-epochs",
                                            "1",
                                            "--nproc",
                                            n};
    a.insert(a.end(), bench.begin(), bench.end());
    ASSERT_EQ(run_to_end(a, log), 0) << read_file(log);
  }
  for (const char* cell : {"mean_s1", "mf_s2", "loid_s1", "loid_s2", "loid-mf_s1", "loid-mf_s2",
                           "loid+plugin_s1", "loid+plugin_s2"}) {
    const std::string one = dir + "/b1/cells/" + cell + ".json";
    const std::string two = dir + "/b2/cells/" + cell + ".json";
    ASSERT_TRUE(fs::exists(two)) << cell;
    EXPECT_NEAR(read_json(two)["test"]["mse"].get<double>(),
                read_json(one)["test"]["mse"].get<double>(), 1e-5)
        << cell;
  }
  EXPECT_TRUE(fs::exists(dir + "/b2/results.md"));
}

TEST(Distributed, AKilledRankEndsTheJobNamingIt) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("dist_kill");
  const std::string data = make_corpus(dir, 300, 40);
  const std::string log = dir + "/log.txt";
  const std::string out = dir + "/run";
  testing::ChildProcess job(train_args(data, out, "200", {"--nproc", "2"}), log);
  // Wait until the LoID stage runs (its first epoch logged), then kill rank 1.
  ASSERT_TRUE(testing::poll_until(
      [&] {
        return fs::exists(out + "/train.log") &&
               read_file(out + "/train.log").find("LoID epoch 1:") != std::string::npos;
      },
      std::chrono::seconds(240)))
      << read_file(log);
  std::string children;
  {
    std::ifstream f("/proc/" + std::to_string(job.pid()) + "/task/" + std::to_string(job.pid()) +
                    "/children");
    std::getline(f, children);
  }
  std::istringstream pids(children);
  int rank0 = 0, rank1 = 0;
  ASSERT_TRUE(pids >> rank0 >> rank1) << "the launcher's children: '" << children << "'";
  ASSERT_EQ(::kill(rank1, SIGKILL), 0);
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(job.wait_for(std::chrono::seconds(60))) << "the job did not end within 60 s";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  EXPECT_LT(seconds, 60.0);
  EXPECT_NE(job.exit_code(), 0);
  const std::string text = read_file(log);
  EXPECT_NE(text.find("rank 1 (pid " + std::to_string(rank1) + ") was killed by signal 9"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rank 1 was lost first"), std::string::npos) << text;
  // Nothing that looks finished.
  EXPECT_FALSE(fs::exists(out + "/metrics.json"));
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));
}

// A job killed during its LoID stage continues with --resume (with two processes again, or with
// one) to the results of the job that was never killed.
TEST(Distributed, AKilledJobResumes) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("dist_resume");
  const std::string data = make_corpus(dir, 120, 30);
  const std::string log = dir + "/log.txt";
  ASSERT_EQ(run_to_end(train_args(data, dir + "/ref", "6", {"--nproc", "2"}), log), 0)
      << read_file(log);
  const json want = read_json(dir + "/ref/metrics.json");
  for (const char* again : {"2", "1"}) {
    const std::string out = dir + "/killed" + again;
    {
      testing::ChildProcess job(train_args(data, out, "6", {"--nproc", "2"}), log);
      const bool reached = testing::poll_until(
          [&] {
            try {
              return !job.running() ||
                     read_json(out + "/checkpoint/state.json").at("epoch").get<int>() >= 2;
            } catch (const std::exception&) {
              return false;
            }
          },
          std::chrono::seconds(240));
      ASSERT_TRUE(reached);
      ASSERT_TRUE(job.running()) << "the job finished before it could be killed";
      job.signal(SIGKILL);  // the launcher; its ranks lose their parent and each other
      ASSERT_TRUE(job.wait_for(std::chrono::seconds(60)));
    }
    // The ranks of the killed launcher stop on their own (a lost peer, or the run they race is
    // gone); give them a moment, then continue the run.
    testing::poll_until([] { return false; }, std::chrono::seconds(2));
    ASSERT_FALSE(fs::exists(out + "/metrics.json"));
    ASSERT_EQ(run_to_end(train_args(data, out, "6", {"--nproc", again, "--resume"}), log), 0)
        << read_file(log);
    const json got = read_json(out + "/metrics.json");
    for (const char* part : {"test", "validation"})
      EXPECT_NEAR(got[part]["mse"].get<double>(), want[part]["mse"].get<double>(), 1e-5)
          << part << " resumed with " << again << " process(es)";
    EXPECT_EQ(got["best_epoch"], want["best_epoch"]);
  }
}

TEST(Distributed, RanksWithOtherSettingsStopBeforeAnyWork) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("dist_mismatch");
  const std::string data = make_corpus(dir, 30, 15);
  const std::string log = dir + "/log.txt";
  const int port = free_local_port();
  const auto codes = run_job_by_hand(
      2, port,
      [&](int r) {
        return train_args(data, dir + "/run", "2",
                          {"--lambda", r == 0 ? "0.3" : "0.4", "--dist-timeout", "30"});
      },
      log);
  EXPECT_EQ(codes, (std::vector<int>{2, 2})) << read_file(log);
  const std::string text = read_file(log);
  EXPECT_NE(text.find("rank 1's settings and data differ from rank 0's"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lambda"), std::string::npos) << text;
  EXPECT_FALSE(fs::exists(dir + "/run")) << "work started before the settings were compared";
}

TEST(Distributed, WrongWorldSizeAndPortInUseAreClearErrors) {
  LOID_REQUIRE_CLI();
  const std::string dir = testing::temp_dir("dist_join");
  const std::string data = make_corpus(dir, 30, 15);
  const std::string log = dir + "/log.txt";
  // A world of 3 with only 2 processes started: rank 0 names the rank that never came.
  const int port = free_local_port();
  const auto codes = run_job_by_hand(
      3, port,
      [&](int) {
        return train_args(data, dir + "/run", "2", {"--dist-timeout", "15"});
      },
      log, /*started=*/2);
  EXPECT_EQ(codes[0], 1) << read_file(log);
  // "rank(s) 2 did not join", or "rank(s) 1, 2" when rank 1 started late on a loaded machine.
  EXPECT_NE(read_file(log).find("2 did not join"), std::string::npos) << read_file(log);

  // Rank 0's port taken by another socket.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string log2 = dir + "/log2.txt";
  const auto codes2 = run_job_by_hand(
      2, ntohs(addr.sin_port),
      [&](int) {
        return train_args(data, dir + "/run2", "2", {"--dist-timeout", "3"});
      },
      log2,
      /*started=*/1);
  ::close(fd);
  EXPECT_EQ(codes2[0], 1) << read_file(log2);
  EXPECT_NE(read_file(log2).find("cannot listen on 127.0.0.1:"), std::string::npos)
      << read_file(log2);
}

}  // namespace
}  // namespace loid
