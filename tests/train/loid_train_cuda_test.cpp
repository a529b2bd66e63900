// `loid train` on a CUDA GPU against the same run on the CPU (tiny BERT, dropout off where
// torch's draws differ by device): metrics within 1e-3, the GPU run's config records the device,
// and the run loads and predicts on the CPU. Skips without a GPU.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/fs.h"
#include "support/cuda.h"
#include "support/tiny_run.h"
#include "train/loid_train.h"
#include "train/run.h"

namespace loid {
namespace {

LoidTrainOptions options(const std::string& data, const std::string& name,
                         const std::string& device) {
  LoidTrainOptions o = testing::tiny_train_options(data, testing::temp_dir(name));
  o.dropout = 0.0;       // the LoID model's torch::nn::Dropout draws differently on a GPU
  o.head_dropout = 0.0;  // so does the Re-LoRA head's
  o.device = parse_device(device);
  return o;
}

TEST(CudaLoidTrain, RunEqualsTheCpuRunAndLoadsOnTheCpu) {
  REQUIRE_CUDA();
  const std::string data = testing::tiny_corpus("cuda_train_corpus", 30, 15, 9);
  const LoidTrainOptions on_cpu = options(data, "cuda_train_cpu", "cpu");
  const LoidTrainOptions on_gpu = options(data, "cuda_train_gpu", "cuda");
  const auto a = run_loid_train(on_cpu).metrics;
  const auto b = run_loid_train(on_gpu).metrics;
  for (const char* split : {"validation", "test"}) {
    if (!a.contains(split)) continue;
    for (const char* m : {"mse", "mae"})
      EXPECT_NEAR(a[split][m].get<double>(), b[split][m].get<double>(), 1e-3) << split << " " << m;
  }
  ASSERT_EQ(a["curve"].size(), b["curve"].size());
  for (std::size_t e = 0; e < a["curve"].size(); ++e)
    EXPECT_NEAR(a["curve"][e]["validation_mse"].get<double>(),
                b["curve"][e]["validation_mse"].get<double>(), 1e-3)
        << "epoch " << e;
  EXPECT_NEAR(a["relora"]["validation_mse"].get<double>(),
              b["relora"]["validation_mse"].get<double>(), 1e-3);

  const auto config = nlohmann::json::parse(read_file(on_gpu.out + "/config.json"));
  EXPECT_EQ(config["settings"]["device"], "cuda:0");
  EXPECT_EQ(config["device_used"], "cuda:0");

  // Saved from CPU copies: the GPU's run loads on the CPU and reproduces its test metrics there.
  const LoadedRun loaded(on_gpu.out);
  EXPECT_NEAR(loaded.evaluate_test()["mse"].get<double>(), b["test"]["mse"].get<double>(), 1e-5);
  const LoadedRun cpu_run(on_cpu.out);
  const std::vector<std::int64_t> users = {0, 1, 2, -1}, items = {0, 1, 2, 3};
  const auto pa = cpu_run.predict(users, items), pb = loaded.predict(users, items);
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_NEAR(pa[i], pb[i], 1e-3) << "pair " << i;
  // And a new user's texts encoded on the GPU score as on the CPU.
  LoadedRun on_device(on_gpu.out, parse_device("cuda"));
  LoadedRun on_host(on_gpu.out);
  const std::vector<std::string> reviews = {"great sound, sturdy strings", "too quiet"};
  const auto ta = on_host.predict_for_texts(reviews, {0, 1}),
             tb = on_device.predict_for_texts(reviews, {0, 1});
  for (std::size_t i = 0; i < ta.size(); ++i) EXPECT_NEAR(ta[i], tb[i], 1e-4) << "item " << i;
}

// A run interrupted on one device continues on the other: --resume ignores the device setting and
// the optimiser state is loaded onto the new device.
TEST(CudaLoidTrain, ResumesOnTheOtherDevice) {
  REQUIRE_CUDA();
  const std::string data = testing::tiny_corpus("cuda_resume_corpus", 30, 15, 4);
  LoidTrainOptions o = options(data, "cuda_resume", "cuda");
  LoidTrainHooks stop_after_one;
  stop_after_one.after_epoch = [](int epoch) { return epoch < 1; };
  run_loid_train(o, stop_after_one);
  o.device = parse_device("cpu");
  o.resume = true;
  const auto m = run_loid_train(o).metrics;
  EXPECT_TRUE(m.contains("test"));
  EXPECT_EQ(m["epochs_run"].get<int>(), o.epochs);
}

}  // namespace
}  // namespace loid
