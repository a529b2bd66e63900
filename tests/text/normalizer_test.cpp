// Unit tests of the BERT normalizer and pre-tokenizer, one rule at a time, with expectations
// written by hand from the rules of HF tokenizers' BertNormalizer / BertPreTokenizer.
#include "text/normalizer.h"

#include <gtest/gtest.h>

namespace loid {
namespace {

std::string norm(const std::string& text, NormalizerOptions options = {}) {
  return u32_to_utf8(bert_normalize(utf8_to_u32(text), options));
}

std::vector<std::string> words(const std::string& text, NormalizerOptions options = {}) {
  return bert_basic_tokenize(text, options);
}

NormalizerOptions only_clean() {
  NormalizerOptions o;
  o.handle_chinese_chars = false;
  o.strip_accents = false;
  o.lower_case = false;
  return o;
}

using Words = std::vector<std::string>;

TEST(NormalizerTest, Utf8RoundTripAndInvalidBytes) {
  std::string text = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";  // a é 中 😀
  std::u32string cps = utf8_to_u32(text);
  EXPECT_EQ(cps, (std::u32string{U'a', 0xE9, 0x4E2D, 0x1F600}));
  EXPECT_EQ(u32_to_utf8(cps), text);
  // A stray continuation byte and a truncated sequence become U+FFFD, which cleaning drops.
  EXPECT_EQ(utf8_to_u32("a\x80"
                        "b"),
            (std::u32string{U'a', 0xFFFD, U'b'}));
  EXPECT_EQ(utf8_to_u32("a\xE4\xB8"), (std::u32string{U'a', 0xFFFD, 0xFFFD}));
  EXPECT_EQ(norm("a\x80"
                 "b"),
            "ab");
}

TEST(NormalizerTest, CleanTextDropsNulReplacementAndControls) {
  EXPECT_EQ(norm(std::string("a\0b", 3), only_clean()), "ab");
  EXPECT_EQ(norm("a\xEF\xBF\xBD"
                 "b",
                 only_clean()),
            "ab");  // U+FFFD
  EXPECT_EQ(norm("bell\x07"
                 "char",
                 only_clean()),
            "bellchar");
  EXPECT_EQ(norm("del\x7F"
                 "char",
                 only_clean()),
            "delchar");
  EXPECT_EQ(norm("zero\xE2\x80\x8Bwidth", only_clean()), "zerowidth");  // U+200B is Cf
  EXPECT_EQ(norm("soft\xC2\xADhyphen", only_clean()), "softhyphen");    // U+00AD is Cf
  EXPECT_EQ(norm("x\xEE\x80\x80y", only_clean()), "xy");                // U+E000 private use
  // Vertical tab, form feed and NEL are Cc: dropped, not turned into spaces.
  EXPECT_EQ(norm("a\x0B"
                 "b\x0C"
                 "c\xC2\x85"
                 "d",
                 only_clean()),
            "abcd");
  // Unassigned code points stay (HF tokenizers keeps them; they become [UNK] later).
  EXPECT_EQ(norm("x\xCD\xB8y", only_clean()), "x\xCD\xB8y");  // U+0378
}

TEST(NormalizerTest, CleanTextTurnsWhitespaceIntoSpaces) {
  EXPECT_EQ(norm("a\tb\nc\rd", only_clean()), "a b c d");
  EXPECT_EQ(norm("nb\xC2\xA0sp", only_clean()), "nb sp");            // U+00A0
  EXPECT_EQ(norm("ideo\xE3\x80\x80sp", only_clean()), "ideo sp");    // U+3000
  EXPECT_EQ(norm("line\xE2\x80\xA8sep", only_clean()), "line sep");  // U+2028 (Zl)
  EXPECT_EQ(norm("thin\xE2\x80\x89sp", only_clean()), "thin sp");    // U+2009
  NormalizerOptions off = only_clean();
  off.clean_text = false;
  EXPECT_EQ(norm(std::string("a\0\tb", 4), off), std::string("a\0\tb", 4));
}

TEST(NormalizerTest, ChineseCharsGetSpaces) {
  NormalizerOptions o = only_clean();
  EXPECT_EQ(norm("\xE4\xB8\xAD\xE6\x96\x87"
                 "a",
                 o),
            "\xE4\xB8\xAD\xE6\x96\x87"
            "a");
  o.handle_chinese_chars = true;
  EXPECT_EQ(norm("\xE4\xB8\xAD\xE6\x96\x87"
                 "a",
                 o),
            " \xE4\xB8\xAD  \xE6\x96\x87 a");  // 中文a
  // Kana and Hangul are not ideographs.
  EXPECT_EQ(norm("\xE3\x82\xAB\xED\x95\x9C", o), "\xE3\x82\xAB\xED\x95\x9C");  // カ한
  EXPECT_TRUE(is_cjk_ideograph(0x4E00));
  EXPECT_TRUE(is_cjk_ideograph(0x9FFF));
  EXPECT_TRUE(is_cjk_ideograph(0x3400));
  EXPECT_TRUE(is_cjk_ideograph(0x20000));
  EXPECT_TRUE(is_cjk_ideograph(0xF900));
  EXPECT_TRUE(is_cjk_ideograph(0x2F800));
  EXPECT_FALSE(is_cjk_ideograph(0x3042));  // あ
  EXPECT_FALSE(is_cjk_ideograph(0xAC00));  // 가
  EXPECT_FALSE(is_cjk_ideograph(0x3002));  // 。
  // HF tokenizers' (Rust) bound: Extension E from 0x2B920, so 0x2B820..0x2B91F stay unpadded.
  EXPECT_FALSE(is_cjk_ideograph(0x2B820));
  EXPECT_TRUE(is_cjk_ideograph(0x2B920));
  EXPECT_TRUE(is_cjk_ideograph(0x2CEAF));
  EXPECT_FALSE(is_cjk_ideograph(0x2CEB0));
}

TEST(NormalizerTest, StripAccentsRemovesNonSpacingMarksOnly) {
  NormalizerOptions o = only_clean();
  o.strip_accents = true;
  EXPECT_EQ(norm("caf\xC3\xA9", o), "cafe");                 // precomposed é
  EXPECT_EQ(norm("cafe\xCC\x81", o), "cafe");                // e + combining acute
  EXPECT_EQ(norm("\xC3\x85ngstr\xC3\xB6m", o), "Angstrom");  // case kept: lower_case is off
  EXPECT_EQ(norm("\xC3\x9F", o), "\xC3\x9F");                // ß has no decomposition
  EXPECT_EQ(norm("\xEF\xAC\x81", o), "\xEF\xAC\x81");  // ﬁ: compatibility only, NFD keeps it
  // Devanagari: virama (Mn) goes, the vowel sign ी (Mc) stays.
  EXPECT_EQ(norm("\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80", o),
            "\xE0\xA4\xA8\xE0\xA4\xA6\xE0\xA5\x80");
  // Hangul syllables decompose into conjoining jamo (which are letters, not marks).
  EXPECT_EQ(norm("\xED\x95\x9C", o), "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB");  // 한 -> ᄒ ᅡ ᆫ
}

TEST(NormalizerTest, LowerCaseIsPerCharacterAndAfterStripping) {
  NormalizerOptions o = only_clean();
  o.lower_case = true;
  EXPECT_EQ(norm("HeLLo WORLD", o), "hello world");
  // No final-sigma context: every capital sigma becomes σ.
  EXPECT_EQ(norm("\xCE\xA3\xCE\x9F\xCE\xA3", o), "\xCF\x83\xCE\xBF\xCF\x83");  // ΣΟΣ -> σοσ
  EXPECT_EQ(norm("\xD0\x9F\xD0\xA0\xD0\x98", o), "\xD0\xBF\xD1\x80\xD0\xB8");  // ПРИ -> при
  EXPECT_EQ(norm("\xE1\xBA\x9E", o), "\xC3\x9F");                              // ẞ -> ß
  // İ lower-cases to i + combining dot when accents are kept...
  EXPECT_EQ(norm("\xC4\xB0", o), "i\xCC\x87");
  // ...and to plain i when they are stripped first (HF's order: strip, then lower).
  o.strip_accents = true;
  EXPECT_EQ(norm("\xC4\xB0stanbul", o), "istanbul");
  EXPECT_EQ(norm("CAF\xC3\x89", o), "cafe");
}

TEST(NormalizerTest, DefaultOptionsAreUncasedBert) {
  EXPECT_EQ(norm("  Cr\xC3\xA8me\tBr\xC3\xBBL\xC3\xA9"
                 "E!\n"),
            "  creme brulee! ");
}

TEST(PreTokenizerTest, SplitsOnWhitespaceAndIsolatesPunctuation) {
  EXPECT_EQ(words("Hello,world! How are you?"),
            (Words{"hello", ",", "world", "!", "how", "are", "you", "?"}));
  EXPECT_EQ(words("   "), Words{});
  EXPECT_EQ(words(""), Words{});
  EXPECT_EQ(words("a...b"), (Words{"a", ".", ".", ".", "b"}));
  EXPECT_EQ(words("can't"), (Words{"can", "'", "t"}));
}

TEST(PreTokenizerTest, AsciiSymbolsCountAsPunctuation) {
  // Unicode calls $ + < = > ^ ` | ~ symbols (S*), BERT still splits them off.
  EXPECT_EQ(words("$100+x^2=y`z|w~v<u>"), (Words{"$", "100", "+", "x", "^", "2", "=", "y", "`", "z",
                                                 "|", "w", "~", "v", "<", "u", ">"}));
  for (char32_t c : std::u32string(U"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")) {
    EXPECT_TRUE(is_bert_punctuation(c)) << static_cast<int>(c);
  }
  EXPECT_FALSE(is_bert_punctuation(U'a'));
  EXPECT_FALSE(is_bert_punctuation(U'0'));
  EXPECT_FALSE(is_bert_punctuation(U' '));
}

TEST(PreTokenizerTest, UnicodePunctuationSplitsButSymbolsDoNot) {
  // ¿ (Po), – (Pd), “ ” (Pi/Pf), · (Po) split; € (Sc) and 😀 (So) stay inside the word.
  EXPECT_EQ(words("\xC2\xBFQu\xC3\xA9?"), (Words{"\xC2\xBF", "que", "?"}));
  EXPECT_EQ(words("a\xE2\x80\x93"
                  "b"),
            (Words{"a", "\xE2\x80\x93", "b"}));
  EXPECT_EQ(words("\xE2\x80\x9Chi\xE2\x80\x9D"), (Words{"\xE2\x80\x9C", "hi", "\xE2\x80\x9D"}));
  EXPECT_EQ(words("a\xC2\xB7"
                  "b"),
            (Words{"a", "\xC2\xB7", "b"}));
  EXPECT_EQ(words("a\xE2\x82\xAC"
                  "b"),
            (Words{"a\xE2\x82\xAC"
                   "b"}));
  EXPECT_EQ(words("great\xF0\x9F\x91\x8D"), (Words{"great\xF0\x9F\x91\x8D"}));
}

TEST(PreTokenizerTest, WhitespaceSetIsUnicodeWhiteSpace) {
  for (char32_t c : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028,
                     0x2029, 0x202F, 0x205F, 0x3000}) {
    EXPECT_TRUE(is_bert_whitespace(c)) << std::hex << c;
  }
  for (char32_t c : {0x200B, 0x180E, 0xFEFF, 0x1C, 0x41}) {
    EXPECT_FALSE(is_bert_whitespace(c)) << std::hex << c;
  }
  // The pre-tokenizer alone (no cleaning) splits on any of them.
  EXPECT_EQ(bert_pre_tokenize(U"a\u00A0b\u2003c"), (std::vector<std::u32string>{U"a", U"b", U"c"}));
}

TEST(PreTokenizerTest, ChineseAndJapanese) {
  // 我喜欢 -> one word per ideograph; ひらがな stays one word.
  EXPECT_EQ(words("\xE6\x88\x91\xE5\x96\x9C\xE6\xAC\xA2"),
            (Words{"\xE6\x88\x91", "\xE5\x96\x9C", "\xE6\xAC\xA2"}));
  EXPECT_EQ(words("\xE3\x81\xB2\xE3\x82\x89"), (Words{"\xE3\x81\xB2\xE3\x82\x89"}));
}

TEST(NormalizerTest, ControlClassExceptions) {
  EXPECT_FALSE(is_bert_control(U'\t'));
  EXPECT_FALSE(is_bert_control(U'\n'));
  EXPECT_FALSE(is_bert_control(U'\r'));
  EXPECT_TRUE(is_bert_control(0x00));
  EXPECT_TRUE(is_bert_control(0x1F));
  EXPECT_TRUE(is_bert_control(0x9F));
  EXPECT_TRUE(is_bert_control(0x200D));  // ZWJ (Cf): emoji ZWJ sequences fall apart
  EXPECT_FALSE(is_bert_control(U'a'));
  EXPECT_FALSE(is_bert_control(0x0378));  // unassigned
}

}  // namespace
}  // namespace loid
