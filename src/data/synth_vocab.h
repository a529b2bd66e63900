// Word lists of the synthetic corpus (synth.h): per-domain aspect nouns, shared sentiment words by
// strength, sentence templates, filler, closings and summaries. Internal to synth.cpp.
#pragma once

#include <string>
#include <vector>

namespace loid::synth_vocab {

struct Aspect {
  std::vector<std::string> nouns;  // ways a review names the aspect
};

struct Theme {
  std::string name;             // e.g. "instruments"
  std::vector<Aspect> aspects;  // 5-6 per theme, none shared between themes
};

const std::vector<Theme>& themes();
// Index = static_cast<int>(Sentiment): strong negative .. strong positive.
const std::vector<std::vector<std::string>>& sentiment_words();
// Sentence patterns: "N" = aspect noun, "S" = sentiment word, "S^" = capitalized sentiment word.
const std::vector<std::vector<std::string>>& aspect_templates();
const std::vector<std::string>& fillers();                 // neutral sentences
const std::vector<std::vector<std::string>>& closings();   // index rating-1
const std::vector<std::vector<std::string>>& summaries();  // index rating-1
const std::vector<std::string>& neutral_summaries();

}  // namespace loid::synth_vocab
