// Word-level user and item documents for the review-text baselines (DeepCoNN, D-Attn, ANR): a
// lowercase word tokeniser, a vocabulary of training words, and per-row documents made of the
// training reviews of the row's user and of its item. Optional pretrained word vectors (JSON).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/dataset.h"
#include "data/history.h"
#include "data/split.h"

namespace loid {

// Lowercase word tokens of a text: maximal runs of ASCII letters and digits and of non-ASCII bytes
// (so UTF-8 words stay whole), with an apostrophe kept only between two word characters ("don't").
// ASCII letters are lowercased; everything else separates words.
std::vector<std::string> word_tokens(const std::string& text);

struct WordDocOptions {
  std::int64_t doc_length = 400;   // tokens per document at most
  std::int64_t min_count = 2;      // a word enters the vocabulary at this training frequency
  std::int64_t max_vocab = 50000;  // most frequent words kept (ties broken alphabetically)
};

constexpr std::int32_t kPadToken = 0;  // padding (all-zero embedding)
constexpr std::int32_t kUnkToken = 1;  // a word outside the vocabulary

// The vocabulary and the documents of one split. Only split.train reviews are ever tokenised, so
// no validation or test text can reach a vocabulary or a document.
class WordDocuments {
 public:
  // Throws UsageError for bad options or a split that does not belong to the dataset.
  WordDocuments(const Dataset& dataset, const Split& split, const WordDocOptions& options);

  // Id -> word; 0 is "<pad>", 1 is "<unk>", then words by descending training count.
  const std::vector<std::string>& words() const { return words_; }
  std::int64_t vocabulary_size() const { return static_cast<std::int64_t>(words_.size()); }
  // Id of a word, or -1 when it is not in the vocabulary.
  std::int64_t id(const std::string& word) const;

  // The document of the user (item) of review `review_id`, for predicting that review's rating:
  // token ids of the user's (item's) training reviews in history order (time, then id),
  // concatenated and cut at doc_length. When `review_id` is itself a training review it is left
  // out: a model must never read the text whose rating it predicts (a held-out row never has its
  // review in a history anyway). Empty for a cold user (item).
  std::vector<std::int32_t> user_document(std::int64_t review_id) const;
  std::vector<std::int32_t> item_document(std::int64_t review_id) const;

  // Token ids of a training review (empty for any other review: those are never tokenised).
  const std::vector<std::int32_t>& review_tokens(std::int64_t review_id) const;

  const WordDocOptions& options() const { return options_; }

 private:
  std::vector<std::int32_t> document(const std::vector<std::int64_t>& history,
                                     std::int64_t exclude) const;

  WordDocOptions options_;
  HistoryIndex history_;
  std::vector<std::int64_t> review_user_, review_item_;
  std::vector<std::vector<std::int32_t>> tokens_;  // review id -> token ids (train reviews only)
  std::vector<std::string> words_;
  std::unordered_map<std::string, std::int64_t> ids_;
};

// Pretrained vectors for the rows of a vocabulary.
struct WordVectors {
  std::int64_t dimensions = 0;        // vector size
  std::int64_t found = 0;             // vocabulary words that had a vector
  std::vector<float> rows;            // vocabulary_size x dimensions, zero where absent
  std::vector<std::uint8_t> present;  // vocabulary id -> 1 when a vector was found
};

// Reads word vectors from JSON, keeping only the words of `vocabulary` (matched exactly; the
// vocabulary is lowercase). Two layouts are accepted: a flat object {"word": [x1, ..., xd], ...},
// and the wink-embeddings layout {"dimensions": d, "vectors": {"word": [x1, ..., xd, extra...]},
// ...} whose vectors carry extra trailing numbers (only the first d are used). The file is read
// in one pass without building a JSON tree (the wink file is 300 MB). Throws InputError naming the
// file, line and byte offset for malformed JSON, a non-numeric or ragged vector, or a file with no
// vectors at all.
WordVectors load_word_vectors(const std::string& path, const std::vector<std::string>& vocabulary);

}  // namespace loid
