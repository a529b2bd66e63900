// Unigram tokenizer. The lattice search copies the reference's rules on purpose, quirks included
// (they decide which ids the model was run with): see the comments in encode().
#include "text/unigram.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"

namespace loid {
namespace {

constexpr char32_t kWordStartChar = 0x2581;  // '▁'
constexpr char32_t kReplacementChar = 0xFFFD;

// Lenient UTF-8 decoding: each invalid byte becomes U+FFFD (as a JavaScript reader would).
std::u32string decode_utf8(const std::string& s) {
  std::u32string out;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t i = 0, n = static_cast<utf8proc_ssize_t>(s.size());
  while (i < n) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &cp);
    if (len <= 0) {
      out.push_back(kReplacementChar);
      ++i;
    } else {
      out.push_back(static_cast<char32_t>(cp));
      i += len;
    }
  }
  return out;
}

std::string encode_utf8(const std::u32string& s) {
  std::string out;
  utf8proc_uint8_t buf[4];
  for (char32_t c : s) {
    auto len = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
  }
  return out;
}

std::string nfkc(const std::string& valid_utf8) {
  utf8proc_uint8_t* mapped = nullptr;
  auto len = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(valid_utf8.data()),
      static_cast<utf8proc_ssize_t>(valid_utf8.size()), &mapped,
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
  if (len < 0) throw Error(std::string("NFKC normalization failed: ") + utf8proc_errmsg(len));
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(len));
  std::free(mapped);
  return out;
}

std::vector<std::pair<std::string, double>> parse_pieces(const nlohmann::json& list,
                                                         const std::string& path) {
  if (!list.is_array()) throw InputError(path, 0, "pieces must be a list of [piece, score] pairs");
  std::vector<std::pair<std::string, double>> pieces;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& e = list[i];
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() ||
        !(e[1].is_number() || e[1].is_null())) {
      throw InputError(
          path, 0, "piece " + std::to_string(i) + " is not a [string, number] pair: " + e.dump());
    }
    pieces.emplace_back(e[0].get<std::string>(), e[1].is_null() ? 0.0 : e[1].get<double>());
  }
  return pieces;
}

nlohmann::json parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, 0, std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace

UnigramTokenizer::UnigramTokenizer(std::vector<std::pair<std::string, double>> pieces,
                                   UnigramOptions options)
    : pieces_(std::move(pieces)), options_(options) {
  if (options_.unk_id < 0 || static_cast<std::size_t>(options_.unk_id) >= pieces_.size()) {
    throw UsageError("unigram tokenizer: unk_id " + std::to_string(options_.unk_id) +
                     " is outside the " + std::to_string(pieces_.size()) + " pieces");
  }
  utf16_length_.resize(pieces_.size());
  for (std::size_t id = 0; id < pieces_.size(); ++id) {
    const std::u32string p = decode_utf8(pieces_[id].first);
    std::int32_t units = 0;
    for (char32_t c : p) units += c > 0xFFFF ? 2 : 1;
    utf16_length_[id] = std::max(units, 1);  // an empty piece would never end the back trace
    if (static_cast<std::int32_t>(id) < options_.reserved || p.empty()) continue;
    lookup_[p] =
        static_cast<std::int32_t>(id);  // a repeated piece keeps its last id, as the trie does
    max_piece_chars_ = std::max(max_piece_chars_, p.size());
  }
}

UnigramTokenizer UnigramTokenizer::from_vocab_json(const std::string& path) {
  return UnigramTokenizer(parse_pieces(parse_json_file(path), path));
}

UnigramTokenizer UnigramTokenizer::load(const std::string& path) {
  const auto j = parse_json_file(path);
  if (!j.is_object() || j.value("type", "") != "unigram" || !j.contains("pieces")) {
    throw InputError(path, 0,
                     "not a unigram tokenizer file (needs \"type\": \"unigram\" and \"pieces\")");
  }
  UnigramOptions o;
  o.reserved = j.value("reserved", o.reserved);
  o.unk_id = j.value("unk_id", o.unk_id);
  try {
    return UnigramTokenizer(parse_pieces(j["pieces"], path), o);
  } catch (const UsageError& e) {
    throw InputError(path, 0, e.what());
  }
}

void UnigramTokenizer::save(const std::string& path) const {
  nlohmann::json j;
  j["type"] = "unigram";
  j["normalization"] = "NFKC";
  j["word_start"] = "\u2581";
  j["unk_id"] = options_.unk_id;
  j["reserved"] = options_.reserved;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [p, s] : pieces_) list.push_back({p, s});
  j["pieces"] = std::move(list);
  write_file_atomic(path, j.dump(0) + "\n");
}

std::u32string UnigramTokenizer::preprocess(const std::string& text) {
  std::u32string s = decode_utf8(nfkc(encode_utf8(decode_utf8(text))));
  if (s.empty()) return s;
  for (auto& c : s) {
    if (c == U' ') c = kWordStartChar;  // only U+0020; tabs and newlines stay as they are
  }
  return kWordStartChar + s;
}

std::vector<std::int32_t> UnigramTokenizer::encode(const std::string& text) const {
  const std::u32string s = preprocess(text);
  const std::size_t n = s.size();
  // Candidate pieces ending at each position, in increasing start order (the order the reference
  // visits them). A position with no matching piece yields the unknown id over one character.
  struct Cand {
    std::size_t start;
    std::int32_t id;
    double score;
  };
  std::vector<std::vector<Cand>> ending(n + 1);
  for (std::size_t i = 0; i < n; ++i) {
    bool any = false;
    for (std::size_t len = 1; len <= max_piece_chars_ && i + len <= n; ++len) {
      auto it = lookup_.find(s.substr(i, len));
      if (it == lookup_.end()) continue;
      ending[i + len].push_back({i, it->second, pieces_[it->second].second});
      any = true;
    }
    if (!any) ending[i + 1].push_back({i, options_.unk_id, 0.0});
  }
  // Viterbi as the reference does it: best[] starts at 0 and 0 also means "unset", so a position
  // whose best score is exactly 0 takes any later candidate; ties go to the later (shorter) piece.
  std::vector<double> best(n + 1, 0.0);
  std::vector<std::int32_t> word(n + 1, 0);
  for (std::size_t end = 0; end <= n; ++end) {
    for (const Cand& c : ending[end]) {
      const double score = c.score + best[c.start];
      if (best[end] == 0.0 || score >= best[end]) {
        best[end] = score;
        word[end] = c.id;
      }
    }
  }
  // Back trace steps by the chosen piece's length in UTF-16 units (JavaScript string length).
  std::vector<std::int32_t> reversed;
  for (std::int64_t at = static_cast<std::int64_t>(n); at > 0; at -= utf16_length_[word[at]]) {
    reversed.push_back(word[at]);
  }
  std::vector<std::int32_t> ids;
  bool previous_unk = false;
  for (std::int32_t id : reversed) {
    if (!(previous_unk && id == options_.unk_id)) ids.push_back(id);  // runs of unknowns -> one
    previous_unk = id == options_.unk_id;
  }
  return {ids.rbegin(), ids.rend()};
}

}  // namespace loid
