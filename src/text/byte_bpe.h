// GPT-2 byte-level BPE, equal to Hugging Face tokenizers' GPT-2 tokenizer (ByteLevel pre-tokenizer
// without prefix space, BPE model, "<|endoftext|>" an added special token, no normalizer).
// Reads vocab.json + merges.txt as Hugging Face writes them, or OpenAI's encoder.json + vocab.bpe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace loid {

// Code point classes of GPT-2's pre-tokenizer pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// as Hugging Face's (Oniguruma) regex sees them: \s is Unicode White_Space (U+0085 included,
// U+FEFF excluded), \p{L} and \p{N} come from utf8proc's Unicode tables.
enum class Gpt2CharClass { kLetter, kNumber, kSpace, kOther };
Gpt2CharClass gpt2_char_class(char32_t c);

// GPT-2's reversible byte -> printable code point map (bytes_to_unicode in OpenAI's encoder.py).
char32_t byte_to_unicode(unsigned char b);
// Every byte of `bytes` mapped through byte_to_unicode, as UTF-8: the spelling of vocab pieces.
std::string byte_level_spelling(const std::string& bytes);

// The pieces (byte ranges of `text`, in order, covering it) of GPT-2's pre-tokenizer pattern,
// implemented without a regex engine. Invalid UTF-8 bytes are one code point each of class kOther.
std::vector<std::string> gpt2_pre_tokenize(const std::string& text);

struct ByteBpeOptions {
  // Literal strings split out of the text before pre-tokenization and encoded as their own id
  // (HF's added special tokens); those absent from the vocabulary are ignored.
  std::vector<std::string> special_tokens = {"<|endoftext|>"};
  std::size_t cache_capacity = 10000;  // pre-tokenized pieces whose ids are remembered (HF's value)
};

class ByteBpeTokenizer {
 public:
  // vocab_path: a JSON object piece -> id (vocab.json / encoder.json); merges_path: one merge
  // "left right" a line in rank order, a first line "#version..." skipped (merges.txt /
  // vocab.bpe). Throws InputError naming the file (and line) on a bad file, a merge whose parts or
  // result are not in the vocabulary, or a vocabulary without a piece for every single byte.
  static ByteBpeTokenizer from_files(const std::string& vocab_path, const std::string& merges_path,
                                     ByteBpeOptions options = {});
  // The same from memory; throws UsageError on the same faults.
  static ByteBpeTokenizer from_vocab(const std::unordered_map<std::string, std::int64_t>& vocab,
                                     const std::vector<std::pair<std::string, std::string>>& merges,
                                     ByteBpeOptions options = {});

  // Ids of `text` (UTF-8; any bytes), no special tokens added, no truncation.
  std::vector<std::int64_t> encode(const std::string& text) const;
  // The first max_length ids of encode(text).
  std::vector<std::int64_t> encode(const std::string& text, std::size_t max_length) const;
  // The bytes the ids stand for (the inverse of encode); throws UsageError on an unknown id.
  std::string decode(const std::vector<std::int64_t>& ids) const;

  std::size_t vocab_size() const { return ids_.size(); }
  // Id of `piece` (vocabulary spelling), -1 when absent.
  std::int64_t id_of(const std::string& piece) const;
  // Piece with id `id` (vocabulary spelling); throws UsageError when there is none.
  const std::string& piece_of(std::int64_t id) const;

  ByteBpeTokenizer(ByteBpeTokenizer&&) noexcept;
  ByteBpeTokenizer& operator=(ByteBpeTokenizer&&) noexcept;
  ~ByteBpeTokenizer();

 private:
  struct Merge {
    std::uint32_t rank;
    std::int32_t new_id;
  };
  struct Cache;

  // vocab_source and merges_source name the files in errors (InputError; merge i is on line
  // merge_lines[i]); empty names: UsageError.
  ByteBpeTokenizer(const std::unordered_map<std::string, std::int64_t>& vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   ByteBpeOptions options, const std::string& vocab_source,
                   const std::string& merges_source, const std::vector<std::int64_t>& merge_lines);
  // Ids of one pre-tokenized piece (raw bytes): the merges applied by rank, leftmost first.
  std::vector<std::int64_t> merge_piece(const std::string& piece) const;
  // Appends the ids of a text without special tokens.
  void encode_plain(const std::string& text, std::vector<std::int64_t>& out) const;
  const Merge* find_merge(std::int32_t left, std::int32_t right) const;

  ByteBpeOptions options_;
  std::unordered_map<std::string, std::int64_t> ids_;
  std::vector<std::string> pieces_;                  // by id ("" where no piece has the id)
  std::int32_t byte_ids_[256] = {};                  // id of the single-byte piece of each byte
  std::unordered_map<std::uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  std::vector<std::pair<std::string, std::int64_t>> specials_;  // special token text, id
  std::unique_ptr<Cache> cache_;
};

}  // namespace loid
