// GPT-2 byte-level BPE: special tokens split out, GPT-2's pattern pre-tokenizes (by hand, on
// utf8proc's classes), bytes become printable code points, merges apply by rank as HF's BPE model
// applies them (a priority queue on (rank, position), so long pieces cost n log n).
#include "text/byte_bpe.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"

namespace loid {

Gpt2CharClass gpt2_char_class(char32_t c) {
  // Unicode White_Space, as Oniguruma's \s (JavaScript's \s differs: it adds U+FEFF, drops U+0085).
  if ((c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
      (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
      c == 0x3000) {
    return Gpt2CharClass::kSpace;
  }
  if (c > 0x10FFFF) return Gpt2CharClass::kOther;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return Gpt2CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return Gpt2CharClass::kNumber;
    default:
      return Gpt2CharClass::kOther;
  }
}

char32_t byte_to_unicode(unsigned char b) {
  // Printable Latin-1 bytes stand for themselves; the other 68 take U+0100.. in byte order.
  auto printable = [](unsigned c) {
    return (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
  };
  if (printable(b)) return b;
  char32_t n = 0;
  for (unsigned c = 0; c < b; ++c) n += printable(c) ? 0 : 1;
  return 0x100 + n;
}

namespace {

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {  // byte_to_unicode stays below U+0800; kept general for clarity of the contract
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

const std::string& byte_spelling(unsigned char b) {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    for (unsigned i = 0; i < 256; ++i)
      append_utf8(byte_to_unicode(static_cast<unsigned char>(i)), t[i]);
    return t;
  }();
  return table[b];
}

// One decoded code point: its value and byte length in the text.
struct CodePoint {
  char32_t c;
  std::size_t bytes;
};

std::vector<CodePoint> decode_code_points(const std::string& text) {
  std::vector<CodePoint> out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t at = 0;
  while (at < text.size()) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n =
        utf8proc_iterate(p + at, static_cast<utf8proc_ssize_t>(text.size() - at), &c);
    if (n <= 0) {  // an invalid byte: one code point of class kOther, kept as it is
      out.push_back({0xFFFFFFFF, 1});
      at += 1;
    } else {
      out.push_back({static_cast<char32_t>(c), static_cast<std::size_t>(n)});
      at += static_cast<std::size_t>(n);
    }
  }
  return out;
}

// Length in code points of the contraction starting at i ('s 't 're 've 'm 'll 'd), 0 if none.
std::size_t contraction_at(const std::vector<CodePoint>& cps, std::size_t i) {
  if (cps[i].c != '\'' || i + 1 >= cps.size()) return 0;
  char32_t a = cps[i + 1].c;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= cps.size()) return 0;
  char32_t b = cps[i + 2].c;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

}  // namespace

std::string byte_level_spelling(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) out += byte_spelling(static_cast<unsigned char>(b));
  return out;
}

std::vector<std::string> gpt2_pre_tokenize(const std::string& text) {
  const std::vector<CodePoint> cps = decode_code_points(text);
  const std::size_t n = cps.size();
  std::vector<Gpt2CharClass> cls(n);
  for (std::size_t i = 0; i < n; ++i) cls[i] = gpt2_char_class(cps[i].c);
  auto run_end = [&](std::size_t from, Gpt2CharClass k) {
    while (from < n && cls[from] == k) ++from;
    return from;
  };
  std::vector<std::string> pieces;
  std::size_t i = 0, byte = 0;
  while (i < n) {
    std::size_t end;  // the piece is code points [i, end)
    if (std::size_t len = contraction_at(cps, i)) {
      end = i + len;
    } else if (cls[i] != Gpt2CharClass::kSpace) {  // ?\p{L}+ | ?\p{N}+ | ?[^\s\p{L}\p{N}]+
      end = run_end(i + 1, cls[i]);
    } else if (cps[i].c == ' ' && i + 1 < n && cls[i + 1] != Gpt2CharClass::kSpace) {
      end = run_end(i + 2, cls[i + 1]);  // one space joins the run that follows it
    } else {
      // \s+(?!\S): the whole run at the end of the text, else the run less its last character
      // (which then starts the next piece); a lone space before a non-space falls to \s+.
      end = run_end(i + 1, Gpt2CharClass::kSpace);
      if (end < n && end - i > 1) --end;
    }
    std::size_t bytes = 0;
    for (std::size_t k = i; k < end; ++k) bytes += cps[k].bytes;
    pieces.push_back(text.substr(byte, bytes));
    byte += bytes;
    i = end;
  }
  return pieces;
}

// Ids of pre-tokenized pieces, bounded in size; shared by threads that tokenize at once.
struct ByteBpeTokenizer::Cache {
  std::shared_mutex mutex;
  std::unordered_map<std::string, std::vector<std::int64_t>> ids;
};

ByteBpeTokenizer::ByteBpeTokenizer(ByteBpeTokenizer&&) noexcept = default;
ByteBpeTokenizer& ByteBpeTokenizer::operator=(ByteBpeTokenizer&&) noexcept = default;
ByteBpeTokenizer::~ByteBpeTokenizer() = default;

ByteBpeTokenizer::ByteBpeTokenizer(const std::unordered_map<std::string, std::int64_t>& vocab,
                                   const std::vector<std::pair<std::string, std::string>>& merges,
                                   ByteBpeOptions options, const std::string& vocab_source,
                                   const std::string& merges_source,
                                   const std::vector<std::int64_t>& merge_lines)
    : options_(std::move(options)), ids_(vocab), cache_(std::make_unique<Cache>()) {
  auto vocab_error = [&](const std::string& problem) {
    if (vocab_source.empty()) throw UsageError("BPE vocabulary: " + problem);
    throw InputError(vocab_source, 0, problem);
  };
  auto merge_error = [&](std::size_t rank, const std::string& problem) {
    if (merges_source.empty()) {
      throw UsageError("BPE merge " + std::to_string(rank) + ": " + problem);
    }
    throw InputError(merges_source, merge_lines.at(rank), problem);
  };
  std::int64_t max_id = -1;
  for (const auto& [piece, id] : ids_) {
    if (id < 0 || id > INT32_MAX) vocab_error("piece '" + piece + "' has id " + std::to_string(id));
    if (piece.empty()) vocab_error("an empty piece (id " + std::to_string(id) + ")");
    max_id = std::max(max_id, id);
  }
  pieces_.assign(static_cast<std::size_t>(max_id + 1), std::string());
  for (const auto& [piece, id] : ids_) {
    std::string& slot = pieces_[static_cast<std::size_t>(id)];
    if (!slot.empty()) {
      vocab_error("pieces '" + slot + "' and '" + piece + "' share id " + std::to_string(id));
    }
    slot = piece;
  }
  for (unsigned b = 0; b < 256; ++b) {
    std::int64_t id = id_of(byte_spelling(static_cast<unsigned char>(b)));
    if (id < 0) {
      std::ostringstream hex;
      hex << std::hex << b;
      vocab_error("no piece for byte 0x" + hex.str() + " ('" +
                  byte_spelling(static_cast<unsigned char>(b)) +
                  "'): not a byte-level BPE vocabulary (GPT-2's vocab.json / encoder.json)");
    }
    byte_ids_[b] = static_cast<std::int32_t>(id);
  }
  merges_.reserve(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    std::int64_t a = id_of(left), b = id_of(right), c = id_of(left + right);
    for (const auto& [part, id] : {std::pair{left, a}, {right, b}, {left + right, c}}) {
      if (id < 0) merge_error(rank, "'" + part + "' is not in the vocabulary (wrong vocab.json?)");
    }
    std::uint64_t key = (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint64_t>(b);
    // A repeated merge keeps its first (best) rank.
    merges_.emplace(key, Merge{static_cast<std::uint32_t>(rank), static_cast<std::int32_t>(c)});
  }
  for (const std::string& s : options_.special_tokens) {
    std::int64_t id = id_of(s);
    if (id >= 0 && !s.empty()) specials_.emplace_back(s, id);
  }
}

ByteBpeTokenizer ByteBpeTokenizer::from_vocab(
    const std::unordered_map<std::string, std::int64_t>& vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, ByteBpeOptions options) {
  return ByteBpeTokenizer(vocab, merges, std::move(options), "", "", {});
}

ByteBpeTokenizer ByteBpeTokenizer::from_files(const std::string& vocab_path,
                                              const std::string& merges_path,
                                              ByteBpeOptions options) {
  std::unordered_map<std::string, std::int64_t> vocab;
  try {
    auto j = nlohmann::json::parse(read_file(vocab_path));
    if (!j.is_object()) throw InputError(vocab_path, 0, "not a JSON object of piece -> id");
    for (const auto& [piece, id] : j.items()) {
      if (!id.is_number_integer()) {
        throw InputError(vocab_path, 0, "the id of '" + piece + "' is not an integer");
      }
      vocab.emplace(piece, id.get<std::int64_t>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(vocab_path, 0, std::string("not valid JSON: ") + e.what());
  }
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<std::int64_t> lines;
  std::istringstream in(read_file(merges_path));
  std::string line;
  std::int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1 && line.rfind("#version", 0) == 0) continue;
    if (line.empty()) continue;
    std::size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 >= line.size() ||
        line.find(' ', space + 1) != std::string::npos) {
      throw InputError(merges_path, number, "expected two pieces separated by one space");
    }
    merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    lines.push_back(number);
  }
  return ByteBpeTokenizer(vocab, merges, std::move(options), vocab_path, merges_path, lines);
}

std::int64_t ByteBpeTokenizer::id_of(const std::string& piece) const {
  auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

const std::string& ByteBpeTokenizer::piece_of(std::int64_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size() ||
      pieces_[static_cast<std::size_t>(id)].empty()) {
    throw UsageError("token id " + std::to_string(id) + " is not in the BPE vocabulary");
  }
  return pieces_[static_cast<std::size_t>(id)];
}

const ByteBpeTokenizer::Merge* ByteBpeTokenizer::find_merge(std::int32_t left,
                                                            std::int32_t right) const {
  auto it =
      merges_.find((static_cast<std::uint64_t>(left) << 32) | static_cast<std::uint32_t>(right));
  return it == merges_.end() ? nullptr : &it->second;
}

std::vector<std::int64_t> ByteBpeTokenizer::merge_piece(const std::string& piece) const {
  // Symbols in a linked list; candidates (rank, position) in a min-queue. A candidate is stale
  // when its left symbol was merged away or its pair no longer makes the same piece (HF's check).
  struct Symbol {
    std::int32_t id;
    std::int32_t prev, next;  // -1 at the ends
    bool alive;
  };
  struct Candidate {
    std::uint32_t rank;
    std::int32_t pos;
    std::int32_t new_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const auto n = static_cast<std::int32_t>(piece.size());
  std::vector<Symbol> sym(static_cast<std::size_t>(n));
  for (std::int32_t i = 0; i < n; ++i) {
    sym[i] = {byte_ids_[static_cast<unsigned char>(piece[static_cast<std::size_t>(i)])], i - 1,
              i + 1 < n ? i + 1 : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](std::int32_t left) {
    std::int32_t right = sym[left].next;
    if (right < 0) return;
    if (const Merge* m = find_merge(sym[left].id, sym[right].id))
      queue.push({m->rank, left, m->new_id});
  };
  for (std::int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& left = sym[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = sym[left.next];
    const Merge* m = find_merge(left.id, right.id);
    if (m == nullptr || m->new_id != top.new_id) continue;
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) sym[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
  std::vector<std::int64_t> ids;
  for (std::int32_t i = 0; i >= 0 && i < n; i = sym[i].next) ids.push_back(sym[i].id);
  return ids;
}

void ByteBpeTokenizer::encode_plain(const std::string& text, std::vector<std::int64_t>& out) const {
  constexpr std::size_t kLongestCached = 256;  // bytes; longer pieces are rare and not kept
  for (const std::string& piece : gpt2_pre_tokenize(text)) {
    if (piece.size() < kLongestCached) {
      std::shared_lock<std::shared_mutex> read(cache_->mutex);
      auto it = cache_->ids.find(piece);
      if (it != cache_->ids.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    std::vector<std::int64_t> ids = merge_piece(piece);
    out.insert(out.end(), ids.begin(), ids.end());
    if (piece.size() < kLongestCached) {
      std::unique_lock<std::shared_mutex> write(cache_->mutex);
      if (cache_->ids.size() < options_.cache_capacity) cache_->ids.emplace(piece, std::move(ids));
    }
  }
}

std::vector<std::int64_t> ByteBpeTokenizer::encode(const std::string& text) const {
  std::vector<std::int64_t> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    // The leftmost special token from `at` (the longest where several start there).
    std::size_t best = std::string::npos, best_len = 0;
    std::int64_t best_id = -1;
    for (const auto& [s, id] : specials_) {
      std::size_t p = text.find(s, at);
      if (p != std::string::npos && (p < best || (p == best && s.size() > best_len))) {
        best = p;
        best_len = s.size();
        best_id = id;
      }
    }
    if (best == std::string::npos) {
      encode_plain(text.substr(at), out);
      break;
    }
    encode_plain(text.substr(at, best - at), out);
    out.push_back(best_id);
    at = best + best_len;
  }
  return out;
}

std::vector<std::int64_t> ByteBpeTokenizer::encode(const std::string& text,
                                                   std::size_t max_length) const {
  std::vector<std::int64_t> ids = encode(text);
  if (ids.size() > max_length) ids.resize(max_length);
  return ids;
}

std::string ByteBpeTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  static const std::unordered_map<char32_t, unsigned char> to_byte = [] {
    std::unordered_map<char32_t, unsigned char> m;
    for (unsigned b = 0; b < 256; ++b) m.emplace(byte_to_unicode(static_cast<unsigned char>(b)), b);
    return m;
  }();
  std::string out;
  for (std::int64_t id : ids) {
    const std::string& piece = piece_of(id);
    if (std::any_of(specials_.begin(), specials_.end(),
                    [&](const auto& s) { return s.second == id; })) {
      out += piece;
      continue;
    }
    for (const CodePoint& cp : decode_code_points(piece)) {
      auto it = to_byte.find(cp.c);
      if (it == to_byte.end()) throw UsageError("piece '" + piece + "' is not byte-level text");
      out.push_back(static_cast<char>(it->second));
    }
  }
  return out;
}

}  // namespace loid
