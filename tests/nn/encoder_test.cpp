// Encoder dispatch (load_encoder, pooling names), the length-bucketed encode loop and the
// `loid encode` pipeline, run on the tiny BERT of tests/golden/bert.
#include "nn/encoder.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "io/safetensors.h"
#include "nn/bert.h"
#include "nn/encode.h"
#include "support/error_of.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using loid::testing::golden;
using loid::testing::temp_dir;

std::string tiny_dir() {
  return golden("bert/tiny");
}

using loid::testing::error_of;

class EncoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Progress::set_quiet(true); }
};

TEST(EncoderPooling, NamesMapToPoolings) {
  EXPECT_EQ(pooling_from_name("cls"), Pooling::kCls);
  EXPECT_EQ(pooling_from_name("pooler"), Pooling::kPooler);
  EXPECT_EQ(pooling_from_name("mean"), Pooling::kMean);
  EXPECT_EQ(pooling_from_name("sentence"), Pooling::kSentence);
  EXPECT_EQ(pooling_from_name("default"), Pooling::kDefault);
  EXPECT_EQ(pooling_from_name("last"), Pooling::kLast);
  EXPECT_THROW(pooling_from_name("max"), UsageError);
}

TEST(EncoderLoad, MissingOrUnknownConfigIsExplained) {
  const auto empty = temp_dir("encoder_empty");
  auto msg = error_of([&] { load_encoder(empty); });
  EXPECT_NE(msg.find(empty + "/config.json: missing"), std::string::npos) << msg;

  const auto gpt = temp_dir("encoder_gpt");
  write_file_atomic(gpt + "/config.json", R"({"model_type": "gpt_neox"})");
  msg = error_of([&] { load_encoder(gpt); });
  EXPECT_NE(msg.find("model_type \"gpt_neox\" is not supported"), std::string::npos) << msg;

  write_file_atomic(gpt + "/config.json", R"({"hidden_size": 8})");
  msg = error_of([&] { load_encoder(gpt); });
  EXPECT_NE(msg.find("no \"model_type\""), std::string::npos) << msg;

  const auto novocab = temp_dir("encoder_novocab");
  std::filesystem::copy_file(tiny_dir() + "/config.json", novocab + "/config.json");
  msg = error_of([&] { load_encoder(novocab); });
  EXPECT_NE(msg.find(novocab + "/vocab.txt: missing"), std::string::npos) << msg;
}

// Texts of very different lengths so that sorting by length really reorders them.
std::vector<std::string> mixed_texts() {
  return {"ok",
          "the guitar strings sound great and the price is nice , i would buy it again",
          "cheap cable",
          "",
          "this tuner works well after two months",
          "loud noise . loud noise . loud noise . loud noise . loud noise . loud noise . loud",
          "nice"};
}

TEST_F(EncoderTest, EncodeTextsKeepsInputOrderAndMatchesSingleForwards) {
  auto enc = load_encoder(tiny_dir());
  const auto texts = mixed_texts();
  EncodeOptions options;
  options.batch_size = 2;
  options.pooling = Pooling::kMean;
  auto vectors = encode_texts(*enc, texts, options);
  ASSERT_EQ(vectors.sizes(), (std::vector<std::int64_t>{7, 32}));
  EXPECT_EQ(vectors.scalar_type(), torch::kFloat32);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto single = enc->forward(enc->tokenize({texts[i]}), Pooling::kMean).vectors[0];
    EXPECT_LT((vectors[i] - single).abs().max().item<double>(), 1e-5) << "text " << i;
  }
  EXPECT_EQ(encode_texts(*enc, {}, options).size(0), 0);
  options.batch_size = 0;
  EXPECT_THROW(encode_texts(*enc, texts, options), UsageError);
}

TEST_F(EncoderTest, PadWritesPadIdAndMaskPastEachRow) {
  auto enc = load_encoder(tiny_dir());
  ASSERT_EQ(enc->pad_id(), 0);  // the tiny config's pad_token_id
  const auto batch = enc->pad({{2, 7, 9, 3}, {2, 3}, {}});
  ASSERT_EQ(batch.input_ids.sizes(), (std::vector<std::int64_t>{3, 4}));
  EXPECT_TRUE(torch::equal(
      batch.input_ids,
      torch::tensor({2, 7, 9, 3, 2, 3, 0, 0, 0, 0, 0, 0}, torch::kInt64).view({3, 4})));
  EXPECT_TRUE(torch::equal(
      batch.attention_mask,
      torch::tensor({1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, torch::kInt64).view({3, 4})));
  // Only empty rows: one padding column, so a forward still has a sequence axis.
  EXPECT_EQ(enc->pad({{}, {}}).input_ids.sizes(), (std::vector<std::int64_t>{2, 1}));
}

TEST_F(EncoderTest, TokenIdsOnTwoThreadsMatchOneTextAtATime) {
  auto enc = load_encoder(tiny_dir());
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  std::vector<std::string> texts;  // more than one task's worth of texts
  for (int i = 0; i < 150; ++i)
    texts.push_back(mixed_texts()[static_cast<std::size_t>(i) % 7] + " " + std::to_string(i));
  const auto all = enc->token_ids(texts);
  at::set_num_threads(threads);
  ASSERT_EQ(all.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i)
    EXPECT_EQ(all[i], enc->token_ids({texts[i]})[0]) << "text " << i;
  // tokenize() is pad(token_ids()).
  const auto batch = enc->tokenize({texts[0], texts[1]});
  EXPECT_TRUE(torch::equal(batch.input_ids, enc->pad({all[0], all[1]}).input_ids));
}

TEST(ParallelTokenIds, UsesTorchsThreadCountAndPassesErrorsOn) {
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  std::mutex m;
  std::set<std::thread::id> seen;
  const auto ids = parallel_token_ids(100, [&](std::size_t i) {
    std::lock_guard<std::mutex> lock(m);
    seen.insert(std::this_thread::get_id());
    return TokenIds{static_cast<std::int64_t>(i)};
  });
  EXPECT_EQ(seen.size(), 2u);
  ASSERT_EQ(ids.size(), 100u);
  for (std::size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(ids[i], TokenIds{static_cast<std::int64_t>(i)});
  // A small call stays on the calling thread.
  seen.clear();
  parallel_token_ids(20, [&](std::size_t) {
    std::lock_guard<std::mutex> lock(m);
    seen.insert(std::this_thread::get_id());
    return TokenIds{};
  });
  EXPECT_EQ(seen, std::set<std::thread::id>{std::this_thread::get_id()});
  // An error on a worker's block reaches the caller.
  EXPECT_THROW(parallel_token_ids(100,
                                  [](std::size_t i) -> TokenIds {
                                    if (i == 90) throw InputError("texts", 91, "bad text");
                                    return {};
                                  }),
               InputError);
  at::set_num_threads(threads);
}

TEST_F(EncoderTest, TextJsonLinesAreDetectedAndValidated) {
  const auto dir = temp_dir("encoder_jsonl");
  const auto good = dir + "/texts.jsonl";
  write_file_atomic(good, "{\"text\": \"first\", \"id\": 1}\n\n{\"text\": \"second\"}\n");
  auto in = read_texts_to_encode(good);
  EXPECT_EQ(in.format, "text-jsonl");
  EXPECT_EQ(in.texts, (std::vector<std::string>{"first", "second"}));

  const auto bad = dir + "/bad.jsonl";
  write_file_atomic(bad, "{\"text\": \"first\"}\n{\"txt\": \"oops\"}\n");
  auto msg = error_of([&] { read_texts_to_encode(bad); });
  EXPECT_NE(msg.find(bad + ":2: no \"text\" key"), std::string::npos) << msg;
  write_file_atomic(bad, "{\"text\": \"first\"}\n{\"text\": 3}\n{\"text\": \"x\"}\n");
  msg = error_of([&] { read_texts_to_encode(bad); });
  EXPECT_NE(msg.find(bad + ":2: \"text\" is not a string"), std::string::npos) << msg;
  write_file_atomic(bad, "{\"text\": \"first\"}\n{\"text\": \n");
  msg = error_of([&] { read_texts_to_encode(bad); });
  EXPECT_NE(msg.find(bad + ":2: not valid JSON"), std::string::npos) << msg;
}

TEST_F(EncoderTest, ReviewsFilesGiveTheirTexts) {
  const auto dir = temp_dir("encoder_reviews");
  const auto path = dir + "/reviews.json";
  write_file_atomic(
      path,
      R"({"reviewerID": "U1", "asin": "I1", "overall": 5.0, "reviewText": "great tone", "summary": "love it", "unixReviewTime": 1})"
      "\n"
      R"({"reviewerID": "U2", "asin": "I1", "overall": 2.0, "reviewText": "cheap cable", "summary": "meh", "unixReviewTime": 2})"
      "\n");
  auto in = read_texts_to_encode(path);
  EXPECT_EQ(in.format, "json");
  ASSERT_EQ(in.texts.size(), 2u);
  EXPECT_NE(in.texts[0].find("great tone"), std::string::npos);
  EXPECT_NE(in.texts[1].find("cheap cable"), std::string::npos);
}

TEST_F(EncoderTest, EncodeFileWritesVectorsInInputOrder) {
  const auto dir = temp_dir("encoder_file");
  const auto input = dir + "/texts.jsonl";
  std::string lines;
  for (const auto& t : mixed_texts()) lines += nlohmann::json{{"text", t}}.dump() + "\n";
  write_file_atomic(input, lines);
  EncodeFileOptions options;
  options.encoder_dir = tiny_dir();
  options.input = input;
  options.output = dir + "/vectors.safetensors";
  options.pooling = "pooler";
  options.batch_size = 3;
  options.progress = false;
  auto result = encode_file(options);
  EXPECT_EQ(result.count, 7);
  EXPECT_EQ(result.width, 32);
  auto st = SafeTensors::load(options.output);
  ASSERT_TRUE(st.contains("vectors"));
  EXPECT_EQ(st.info("vectors").dtype, DType::F32);
  EXPECT_EQ(st.info("vectors").shape, (std::vector<std::int64_t>{7, 32}));
  auto got = torch::tensor(st.to_f32("vectors")).reshape({7, 32});
  auto enc = load_encoder(tiny_dir());
  auto want = enc->forward(enc->tokenize(mixed_texts()), Pooling::kPooler).vectors;
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-5);

  // --max-length reaches the BERT tokenizer: a long text changes, a short one does not.
  options.max_length = 4;
  options.output = dir + "/short.safetensors";
  encode_file(options);
  auto shorter =
      torch::tensor(SafeTensors::load(options.output).to_f32("vectors")).reshape({7, 32});
  EXPECT_LT((shorter[0] - got[0]).abs().max().item<double>(), 1e-5);
  EXPECT_GT((shorter[1] - got[1]).abs().max().item<double>(), 1e-3);
}

TEST_F(EncoderTest, EncodeFileExplainsMissingDefaultEncoder) {
  const auto models = temp_dir("encoder_models");
  const char* old = std::getenv("LOID_MODELS_DIR");
  const std::string saved = old ? old : "";
  setenv("LOID_MODELS_DIR", models.c_str(), 1);
  EncodeFileOptions options;
  options.input = "unused.jsonl";
  options.output = models + "/out.safetensors";
  auto msg = error_of([&] { encode_file(options); });
  if (old)
    setenv("LOID_MODELS_DIR", saved.c_str(), 1);
  else
    unsetenv("LOID_MODELS_DIR");
  EXPECT_NE(msg.find(models + "/use_lite"), std::string::npos) << msg;
  EXPECT_NE(msg.find("loid models install"), std::string::npos) << msg;
}

TEST_F(EncoderTest, EncodeFileRejectsBadOptions) {
  EncodeFileOptions options;
  options.encoder_dir = tiny_dir();
  options.input = "x.jsonl";
  options.output = "y.safetensors";
  options.pooling = "max";
  EXPECT_THROW(encode_file(options), UsageError);
  options.pooling = "sentence";
  const auto dir = temp_dir("encoder_sentence");
  options.input = dir + "/t.jsonl";
  write_file_atomic(options.input, "{\"text\": \"ok\"}\n");
  options.output = dir + "/v.safetensors";
  options.progress = false;
  EXPECT_THROW(encode_file(options), UsageError);
  EXPECT_FALSE(file_exists(options.output));
}

// Runs a shell command; returns its exit code.
int run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(EncoderTest, CliEncodesAndReportsBadInput) {
  const std::string cli = loid::testing::cli_path();
  if (!std::filesystem::exists(cli)) GTEST_SKIP() << cli << " not built; skipping CLI test";
  const auto dir = temp_dir("encoder_cli");
  const auto input = dir + "/texts.jsonl";
  write_file_atomic(input, "{\"text\": \"great tone\"}\n{\"text\": \"cheap cable\"}\n");
  const auto out = dir + "/vectors.safetensors";
  const auto err = dir + "/stderr.txt";
  const std::string base = cli + " encode --encoder " + tiny_dir() + " --out " + out;
  ASSERT_EQ(
      run(base + " --input " + input + " --pooling mean --batch-size 1 --no-progress 2>" + err), 0)
      << read_file(err);
  auto st = SafeTensors::load(out);
  EXPECT_EQ(st.info("vectors").shape, (std::vector<std::int64_t>{2, 32}));

  EXPECT_NE(run(base + " --input " + input + " --pooling max 2>" + err), 0);
  const auto bad = dir + "/bad.jsonl";
  write_file_atomic(bad, "{\"text\": \"ok\"}\n[1, 2]\n");
  EXPECT_EQ(run(base + " --input " + bad + " 2>" + err), 2);
  EXPECT_NE(read_file(err).find(bad + ":2: expected a JSON object"), std::string::npos)
      << read_file(err);
}

}  // namespace
}  // namespace loid
