// The review-text baselines (DeepCoNN, D-Attn, ANR) and their word documents: they learn from the
// texts (on a corpus whose words follow the ratings, the real texts beat a constant text), are
// reproducible by seed, never read held-out or own-review text, and fail clearly on bad names and
// bad word-vector files.
#include "rec/text_baselines.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/progress.h"
#include "eval/metrics.h"
#include "rec/word_docs.h"
#include "support/error_of.h"
#include "support/synth_dataset.h"
#include "support/test_paths.h"

namespace loid {
namespace {

using testing::error_of;
using testing::ratings_of;
using testing::synth_dataset;

// A split with the given part for every review (the id lists follow the parts).
Split split_of(const std::vector<SplitPart>& parts) {
  Split s;
  s.part = parts;
  s.cold_user.assign(parts.size(), 0);
  s.cold_item.assign(parts.size(), 0);
  for (std::size_t r = 0; r < parts.size(); ++r) {
    auto id = static_cast<std::int64_t>(r);
    if (parts[r] == SplitPart::kTrain)
      s.train.push_back(id);
    else if (parts[r] == SplitPart::kValidation)
      s.validation.push_back(id);
    else
      s.test.push_back(id);
  }
  return s;
}

// Small, quick settings: short documents, narrow layers, one thread.
TextBaselineOptions tiny(const std::string& model) {
  Progress::set_quiet(true);
  TextBaselineOptions o;
  o.model = model;
  o.threads = 1;
  o.progress = false;
  o.doc_length = 80;
  o.embedding_size = 16;
  o.filters = 16;
  o.batch_size = 32;
  return o;
}

std::string write_temp(const std::string& name, const std::string& content) {
  static const std::string dir = testing::temp_dir("text_baselines");
  const std::string path = dir + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(WordTokens, LowercaseWordsWithInnerApostrophes) {
  EXPECT_EQ(word_tokens("Don't STOP--now, 'quoted' x2 caf\xc3\xa9!"),
            (std::vector<std::string>{"don't", "stop", "now", "quoted", "x2", "caf\xc3\xa9"}));
  EXPECT_TRUE(word_tokens(" ... ").empty());
}

class TextBaselineModels : public ::testing::TestWithParam<std::string> {};

TEST_P(TextBaselineModels, BeatsGlobalMeanOnSynthetic) {
  const Dataset d = synth_dataset(120, 40, 3);
  SplitOptions so;
  so.seed = 1;
  const Split split = make_split(d, so);
  TextBaselineOptions o = tiny(GetParam());
  o.max_epochs = 10;
  const TextBaselineResult r = train_text_baseline(d, split, o);
  ASSERT_EQ(r.test_predictions.size(), split.test.size());
  ASSERT_EQ(r.validation_predictions.size(), split.validation.size());
  const std::vector<float> truth = ratings_of(d, split.test);
  double mean = 0.0;
  for (std::int64_t id : split.train) mean += d.review(id).rating;
  mean /= static_cast<double>(split.train.size());
  const double mean_mse =
      rating_metrics(std::vector<float>(truth.size(), static_cast<float>(mean)), truth).mse;
  const double mse = rating_metrics(r.test_predictions, truth).mse;
  std::printf("%s: test MSE %.4f, global mean %.4f, best epoch %d\n", GetParam().c_str(), mse,
              mean_mse, r.best_epoch);
  EXPECT_LT(mse, 0.85 * mean_mse);
  EXPECT_GE(r.best_epoch, 1);
  for (float p : r.test_predictions) {
    EXPECT_GE(p, 1.0f);
    EXPECT_LE(p, 5.0f);
  }
}

// The same reviews (users, items, ratings, times) with one and the same text each: the documents
// keep their lengths but say nothing, neither about ratings nor about who or what they describe.
Dataset with_constant_text(const Dataset& d) {
  std::vector<Review> reviews = d.reviews();
  for (Review& r : reviews) r.text = "it is a product and i used it";
  return Dataset(std::move(reviews));
}

// What the texts add: on the synthetic corpus the words show the ratings (sentiment, summaries
// and closings lean to the rating; aspects to the user's tastes and the item's qualities), so a
// model that reads them must beat the same model on a constant text, where only the documents'
// lengths (and the ID biases of dattn and anr) are left. Test MSE over two seeds; the margin is 15%
// of the constant-text model's MSE. (Texts shuffled across reviews are no such control: the
// shuffled documents still tell users and items apart, and deepconn and dattn fit those identities
// almost as well as the real texts here.)
TEST_P(TextBaselineModels, RealTextsBeatAConstantText) {
  const Dataset real = synth_dataset(120, 40, 3);
  const Dataset constant = with_constant_text(real);
  SplitOptions so;
  so.seed = 1;
  const Split split = make_split(real, so);
  ASSERT_EQ(make_split(constant, so).part, split.part);  // the same rows in the same parts
  const std::vector<float> truth = ratings_of(real, split.test);
  double real_mse = 0.0, constant_mse = 0.0;
  for (std::uint64_t seed : {1, 2}) {
    TextBaselineOptions o = tiny(GetParam());
    o.max_epochs = 10;
    o.seed = seed;
    o.min_count = 1;  // the constant text's words are in the vocabulary
    const double r =
        rating_metrics(train_text_baseline(real, split, o).test_predictions, truth).mse;
    const double c =
        rating_metrics(train_text_baseline(constant, split, o).test_predictions, truth).mse;
    std::printf("%s seed %d: test MSE %.4f with the texts, %.4f with a constant text\n",
                GetParam().c_str(), static_cast<int>(seed), r, c);
    real_mse += r / 2;
    constant_mse += c / 2;
  }
  EXPECT_LT(real_mse, 0.85 * constant_mse)
      << GetParam() << ": texts " << real_mse << ", constant text " << constant_mse;
}

TEST_P(TextBaselineModels, SameSeedSamePredictionsOtherSeedDiffers) {
  const Dataset d = synth_dataset(40, 15, 4);
  const Split split = make_split(d, SplitOptions{});
  TextBaselineOptions o = tiny(GetParam());
  o.max_epochs = 2;
  o.patience = 5;
  const TextBaselineResult a = train_text_baseline(d, split, o);
  const TextBaselineResult b = train_text_baseline(d, split, o);
  EXPECT_EQ(a.test_predictions, b.test_predictions);
  EXPECT_EQ(a.validation_predictions, b.validation_predictions);
  o.seed = 2;
  const TextBaselineResult c = train_text_baseline(d, split, o);
  EXPECT_NE(a.test_predictions, c.test_predictions);
}

TEST_P(TextBaselineModels, ColdUserAndItemGetFinitePredictions) {
  Dataset base = synth_dataset(40, 15, 5);
  std::vector<Review> reviews = base.reviews();
  Review cold;
  cold.user = "never-seen-user";
  cold.item = "never-seen-item";
  cold.rating = 4;
  cold.text = "text of a held-out review";
  reviews.push_back(cold);
  const Dataset d(reviews);
  std::vector<SplitPart> parts = make_split(base, SplitOptions{}).part;
  parts.push_back(SplitPart::kTest);
  const Split split = split_of(parts);
  TextBaselineOptions o = tiny(GetParam());
  o.max_epochs = 1;
  const TextBaselineResult r = train_text_baseline(d, split, o);
  ASSERT_FALSE(r.test_predictions.empty());
  const float p = r.test_predictions.back();
  EXPECT_TRUE(std::isfinite(p));
  EXPECT_GE(p, 1.0f);
  EXPECT_LE(p, 5.0f);
}

INSTANTIATE_TEST_SUITE_P(All, TextBaselineModels, ::testing::Values("deepconn", "dattn", "anr"));

// Held-out reviews carry a marker word that no training review has; it must reach neither the
// vocabulary nor any document, and every document must be exactly the row's training history.
TEST(WordDocuments, HeldOutTextNeverEntersVocabularyOrDocuments) {
  const Dataset base = synth_dataset(40, 15, 6);
  const Split split = make_split(base, SplitOptions{});
  std::vector<Review> reviews = base.reviews();
  for (std::size_t r = 0; r < reviews.size(); ++r) {
    if (split.part[r] != SplitPart::kTrain) reviews[r].text += " zqxheldout zqxheldout";
  }
  reviews[static_cast<std::size_t>(split.train[0])].text += " zqxtrainonly";
  const Dataset d(reviews);
  WordDocOptions wo;
  wo.min_count = 1;  // every training word is in the vocabulary, so unknowns would be foreign
  wo.doc_length = 100000;
  const WordDocuments docs(d, split, wo);
  EXPECT_EQ(docs.id("zqxheldout"), -1);
  EXPECT_GE(docs.id("zqxtrainonly"), 2);  // control: a training-only word does get in

  const HistoryIndex history(d, split);
  const auto expected = [&](const std::vector<std::int64_t>& h, std::int64_t self) {
    std::vector<std::int32_t> out;
    for (std::int64_t r : h) {
      if (r == self) continue;
      for (const auto& w : word_tokens(d.review(r).text))
        out.push_back(static_cast<std::int32_t>(docs.id(w)));
    }
    return out;
  };
  for (std::int64_t r = 0; r < d.num_reviews(); ++r) {
    const auto u = docs.user_document(r), i = docs.item_document(r);
    EXPECT_EQ(std::count(u.begin(), u.end(), kUnkToken), 0) << "review " << r;
    EXPECT_EQ(std::count(i.begin(), i.end(), kUnkToken), 0) << "review " << r;
    EXPECT_EQ(u, expected(history.user_history(d.user_of(r)), r)) << "review " << r;
    EXPECT_EQ(i, expected(history.item_history(d.item_of(r)), r)) << "review " << r;
    if (split.part[static_cast<std::size_t>(r)] != SplitPart::kTrain)
      EXPECT_TRUE(docs.review_tokens(r).empty());
  }
}

// A training row's own review is left out of its user and item documents, but is in the documents
// of the user's and the item's other rows.
TEST(WordDocuments, TrainingRowNeverReadsItsOwnReview) {
  const Dataset base = synth_dataset(40, 15, 7);
  const Split split = make_split(base, SplitOptions{});
  std::vector<Review> reviews = base.reviews();
  const std::int64_t self = split.train[3];
  reviews[static_cast<std::size_t>(self)].text += " zqxself";
  const Dataset d(reviews);
  WordDocOptions wo;
  wo.min_count = 1;
  wo.doc_length = 100000;
  const WordDocuments docs(d, split, wo);
  const auto marker = static_cast<std::int32_t>(docs.id("zqxself"));
  ASSERT_GE(marker, 2);
  const auto has = [&](const std::vector<std::int32_t>& doc) {
    return std::find(doc.begin(), doc.end(), marker) != doc.end();
  };
  EXPECT_FALSE(has(docs.user_document(self)));
  EXPECT_FALSE(has(docs.item_document(self)));
  bool user_sibling = false, item_sibling = false;
  for (std::int64_t r : split.train) {
    if (r == self) continue;
    if (d.user_of(r) == d.user_of(self)) {
      user_sibling = true;
      EXPECT_TRUE(has(docs.user_document(r))) << "review " << r;
    }
    if (d.item_of(r) == d.item_of(self)) {
      item_sibling = true;
      EXPECT_TRUE(has(docs.item_document(r))) << "review " << r;
    }
  }
  EXPECT_TRUE(user_sibling && item_sibling);
  for (std::int64_t r : split.test)  // held-out rows of the same user read all training reviews
    if (d.user_of(r) == d.user_of(self)) EXPECT_TRUE(has(docs.user_document(r)));
}

TEST(WordDocuments, DocumentsAreCutAtDocLength) {
  const Dataset d = synth_dataset(40, 15, 8);
  const Split split = make_split(d, SplitOptions{});
  WordDocOptions wo;
  wo.doc_length = 7;
  const WordDocuments docs(d, split, wo);
  for (std::int64_t r : split.test) EXPECT_LE(docs.user_document(r).size(), 7u);
  EXPECT_EQ(docs.user_document(split.test[0]).size(), 7u);
}

TEST(TextBaselines, UnknownModelIsUsageErrorListingValidNames) {
  const Dataset d = synth_dataset(20, 10, 9);
  const Split split = make_split(d, SplitOptions{});
  TextBaselineOptions o = tiny("deepcon");
  const std::string e = error_of<UsageError>([&] { train_text_baseline(d, split, o); });
  EXPECT_NE(e.find("'deepcon'"), std::string::npos) << e;
  EXPECT_NE(e.find("valid: deepconn, dattn, anr"), std::string::npos) << e;
  EXPECT_TRUE(is_text_baseline("anr"));
  EXPECT_FALSE(is_text_baseline("mf"));
}

TEST(WordVectors, FlatAndWinkLayouts) {
  const std::vector<std::string> vocab = {"<pad>", "<unk>", "good", "bad", "caf\xc3\xa9"};
  const WordVectors flat = load_word_vectors(
      write_temp(
          "flat.json",
          "{\"good\": [1, 2.5, -3e-1],\n \"other\": [0, 0, 0],\n \"caf\\u00e9\": [4, 5, 6]}"),
      vocab);
  EXPECT_EQ(flat.dimensions, 3);
  EXPECT_EQ(flat.found, 2);
  EXPECT_EQ(flat.present, (std::vector<std::uint8_t>{0, 0, 1, 0, 1}));
  EXPECT_FLOAT_EQ(flat.rows[2 * 3 + 1], 2.5f);
  EXPECT_FLOAT_EQ(flat.rows[2 * 3 + 2], -0.3f);
  EXPECT_FLOAT_EQ(flat.rows[4 * 3 + 0], 4.0f);
  EXPECT_FLOAT_EQ(flat.rows[3 * 3 + 0], 0.0f);

  // wink-embeddings: metadata first, vectors with two extra numbers (norm, index) at the end.
  const WordVectors wink = load_word_vectors(
      write_temp(
          "wink.json",
          "{\"precision\":8,\"dimensions\":2,\"words\":[\"bad\",\"good\"],"
          "\"vectors\":{\"bad\":[0.5,-1,1.1,0],\"good\":[2,3,3.6,1]},\"unkVector\":[0,0,-1]}"),
      vocab);
  EXPECT_EQ(wink.dimensions, 2);
  EXPECT_EQ(wink.found, 2);
  EXPECT_FLOAT_EQ(wink.rows[3 * 2 + 0], 0.5f);
  EXPECT_FLOAT_EQ(wink.rows[2 * 2 + 1], 3.0f);
}

TEST(WordVectors, MalformedFilesGiveClearErrors) {
  const std::vector<std::string> vocab = {"<pad>", "<unk>", "good"};
  const auto err = [&](const std::string& name, const std::string& content) {
    const std::string path = write_temp(name, content);
    const std::string e = error_of<InputError>([&] { load_word_vectors(path, vocab); });
    EXPECT_NE(e.find(path), std::string::npos) << e;
    return e;
  };
  EXPECT_NE(err("trunc.json", "{\"good\": [1, 2,\n 3").find("unexpected end of file"),
            std::string::npos);
  EXPECT_NE(err("nan.json", "{\"good\": [1, \"x\"]}").find("other than a number"),
            std::string::npos);
  const std::string ragged = err("ragged.json", "{\"bad\": [1, 2],\n\"good\": [1, 2, 3]}");
  EXPECT_NE(ragged.find("has 3 numbers, expected 2"), std::string::npos) << ragged;
  EXPECT_NE(ragged.find(":2:"), std::string::npos) << ragged;  // the line of "good"
  EXPECT_NE(err("list.json", "[1, 2]").find("one JSON object"), std::string::npos);
  EXPECT_NE(err("none.json", "{}").find("no word vectors"), std::string::npos);
  EXPECT_NE(err("num.json", "{\"good\": [1, 2-]}").find("malformed number"), std::string::npos);
  EXPECT_NE(error_of<InputError>([&] {
              load_word_vectors("/nonexistent/vectors.json", vocab);
            }).find("/nonexistent/vectors.json"),
            std::string::npos);
}

TEST(WordVectors, InitialiseTheEmbeddingsAndBadFilesStopTraining) {
  const Dataset d = synth_dataset(40, 15, 10);
  const Split split = make_split(d, SplitOptions{});
  // Vectors for two words every synthetic corpus uses, in the tiny embedding size.
  std::string json = "{";
  const std::string w1 = synth_sentiment_words(Sentiment::kStrongPositive)[0];
  const std::string w2 = synth_sentiment_words(Sentiment::kStrongNegative)[0];
  std::string vec = "[";
  for (int k = 0; k < 16; ++k) vec += (k ? "," : "") + std::to_string(0.01 * k);
  vec += "]";
  json += "\"" + w1 + "\": " + vec + ", \"" + w2 + "\": " + vec + ", \"zzunused\": " + vec + "}";
  TextBaselineOptions o = tiny("deepconn");
  o.max_epochs = 1;
  o.word_vectors = write_temp("init.json", json);
  const TextBaselineResult r = train_text_baseline(d, split, o);
  EXPECT_EQ(r.pretrained_words, 2);

  o.embedding_size = 8;
  EXPECT_NE(error_of<UsageError>([&] { train_text_baseline(d, split, o); }).find("16-d"),
            std::string::npos);
  o.embedding_size = 0;
  o.word_vectors = write_temp("bad.json", "{\"" + w1 + "\": [1, 2,");
  EXPECT_NE(error_of<InputError>([&] { train_text_baseline(d, split, o); }).find("bad.json"),
            std::string::npos);
}

}  // namespace
}  // namespace loid
