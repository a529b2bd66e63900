// BERT basic tokenization, matching HF tokenizers' BertNormalizer and BertPreTokenizer rule for
// rule (the order of the stages and the character classes are what decide the word pieces
// downstream).
#include "text/normalizer.h"

#include <utf8proc.h>

#include <cstdint>

#include "core/error.h"

namespace loid {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

utf8proc_category_t category_of(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

// Appends the UTF-8 bytes of one code point (assumed valid: < 0x110000, not a surrogate).
void append_utf8(std::string& out, char32_t c) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

// NFD of `text` (with canonical reordering), then drops the non-spacing marks (Mn).
std::u32string strip_accents(const std::u32string& text) {
  bool ascii = true;  // ASCII has neither decompositions nor marks: skip the NFD round trip
  for (char32_t c : text) ascii = ascii && c < 0x80;
  if (ascii) return text;
  std::string utf8 = u32_to_utf8(text);
  const auto* src = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  const auto len = static_cast<utf8proc_ssize_t>(utf8.size());
  const int options = UTF8PROC_DECOMPOSE;
  utf8proc_ssize_t needed = utf8proc_decompose(src, len, nullptr, 0, utf8proc_option_t(options));
  if (needed < 0) throw Error(std::string("NFD failed: ") + utf8proc_errmsg(needed));
  std::vector<utf8proc_int32_t> buf(static_cast<std::size_t>(needed));
  utf8proc_ssize_t got =
      utf8proc_decompose(src, len, buf.data(), needed, utf8proc_option_t(options));
  if (got < 0) throw Error(std::string("NFD failed: ") + utf8proc_errmsg(got));
  std::u32string out;
  out.reserve(static_cast<std::size_t>(got));
  for (utf8proc_ssize_t i = 0; i < got; ++i) {
    auto c = static_cast<char32_t>(buf[static_cast<std::size_t>(i)]);
    if (category_of(c) != UTF8PROC_CATEGORY_MN) out.push_back(c);
  }
  return out;
}

// Full lower-case mapping, character by character (no context: capital sigma is always 'σ').
std::u32string lower_case(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(c >= U'A' && c <= U'Z' ? c + (U'a' - U'A') : c);
    } else if (c == 0x0130) {  // the one unconditional one-to-many mapping: 'İ' -> "i̇"
      out.push_back(U'i');
      out.push_back(0x0307);
    } else {
      out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return out;
}

}  // namespace

bool is_bert_whitespace(char32_t c) {
  // Unicode White_Space, hard-coded: the property is stable and utf8proc does not expose it.
  switch (c) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_bert_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;  // counted as whitespace instead
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  switch (category_of(c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
      return true;
    default:  // unassigned code points (Cn) are kept, as HF tokenizers (Rust) keeps them
      return false;
  }
}

bool is_bert_punctuation(char32_t c) {
  // BERT treats every non-alphanumeric ASCII character as punctuation, even symbols like '$'.
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  if (c < 0x80) return false;
  switch (category_of(c)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

bool is_cjk_ideograph(char32_t c) {
  // The "CJK Unified Ideographs" blocks as BERT defines them; Hangul, kana and CJK punctuation are
  // deliberately not included. Extension E starts at 0x2B920 here, not 0x2B820: HF tokenizers
  // (Rust, the fast tokenizer users get by default) has that bound, and we match its ids.
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::u32string utf8_to_u32(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  auto left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0) {  // invalid sequence: skip one byte, emit the replacement character
      out.push_back(kReplacement);
      n = 1;
    } else {
      out.push_back(static_cast<char32_t>(c));
    }
    p += n;
    left -= n;
  }
  return out;
}

std::string u32_to_utf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    bool valid = c < 0x110000 && !(c >= 0xD800 && c <= 0xDFFF);
    append_utf8(out, valid ? c : kReplacement);
  }
  return out;
}

std::u32string bert_normalize(const std::u32string& text, const NormalizerOptions& options) {
  std::u32string s;
  s.reserve(text.size());
  for (char32_t c : text) {
    if (options.clean_text) {
      if (c == 0 || c == kReplacement || is_bert_control(c)) continue;
      if (is_bert_whitespace(c)) c = U' ';
    }
    if (options.handle_chinese_chars && is_cjk_ideograph(c)) {
      s.push_back(U' ');
      s.push_back(c);
      s.push_back(U' ');
    } else {
      s.push_back(c);
    }
  }
  if (options.strip_accents) s = strip_accents(s);
  if (options.lower_case) s = lower_case(s);
  return s;
}

std::vector<std::u32string> bert_pre_tokenize(const std::u32string& normalized) {
  std::vector<std::u32string> words;
  std::u32string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (char32_t c : normalized) {
    if (is_bert_whitespace(c)) {
      flush();
    } else if (is_bert_punctuation(c)) {
      flush();
      words.emplace_back(1, c);
    } else {
      cur.push_back(c);
    }
  }
  flush();
  return words;
}

std::vector<std::string> bert_basic_tokenize(const std::string& text,
                                             const NormalizerOptions& options) {
  std::vector<std::string> out;
  for (const auto& w : bert_pre_tokenize(bert_normalize(utf8_to_u32(text), options))) {
    out.push_back(u32_to_utf8(w));
  }
  return out;
}

}  // namespace loid
