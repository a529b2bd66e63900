// BERT basic tokenization (HF BertNormalizer + BertPreTokenizer): clean, pad CJK ideographs, strip
// accents, lower-case, then split on whitespace and punctuation. Code points come from utf8proc.
#pragma once

#include <string>
#include <vector>

namespace loid {

struct NormalizerOptions {
  bool clean_text = true;            // drop NUL, U+FFFD and control/format chars; whitespace -> ' '
  bool handle_chinese_chars = true;  // surround CJK ideographs with spaces (each is its own word)
  bool strip_accents = true;         // NFD, then drop non-spacing marks (Mn)
  bool lower_case = true;            // full Unicode lower-casing, after accent stripping (as HF)
};

// Code point classes, the same as HF tokenizers' BERT normalizer and pre-tokenizer.
bool is_bert_whitespace(char32_t c);   // Unicode White_Space (tab, newline, CR included)
bool is_bert_control(char32_t c);      // Cc, Cf, Co (not unassigned), except tab, newline, CR
bool is_bert_punctuation(char32_t c);  // ASCII punctuation (even '$', '+', '^') or Unicode P*
bool is_cjk_ideograph(char32_t c);     // CJK Unified Ideographs blocks and compatibility blocks
                                       // (HF tokenizers' ranges, see normalizer.cpp)

// UTF-8 <-> code points. Invalid UTF-8 bytes decode to U+FFFD (which clean_text later drops).
std::u32string utf8_to_u32(const std::string& text);
std::string u32_to_utf8(const std::u32string& text);

// The normalizer stage alone: the text the pre-tokenizer sees.
std::u32string bert_normalize(const std::u32string& text, const NormalizerOptions& options);
// The pre-tokenizer stage alone: whitespace separates words and is dropped; every punctuation
// character becomes a word of its own.
std::vector<std::u32string> bert_pre_tokenize(const std::u32string& normalized);
// Both stages on UTF-8 text: the words WordPiece splits, in UTF-8.
std::vector<std::string> bert_basic_tokenize(const std::string& text,
                                             const NormalizerOptions& options);

}  // namespace loid
