// Word lists of the synthetic corpus (see synth_vocab.h).
#include "data/synth_vocab.h"

namespace loid::synth_vocab {

const std::vector<Theme>& themes() {
  static const std::vector<Theme> t = {
      {"instruments",
       {{{"sound", "tone", "volume"}},
        {{"build", "body", "finish", "construction"}},
        {{"action", "frets", "neck", "keys"}},
        {{"tuning", "intonation", "tuning pegs"}},
        {{"pickups", "cable", "input jack"}}}},
      {"beauty",
       {{{"scent", "fragrance", "smell"}},
        {{"texture", "consistency", "formula"}},
        {{"moisture", "hydration", "finish on the skin"}},
        {{"bottle", "pump", "packaging"}},
        {{"staying power", "longevity", "wear time"}}}},
      {"fashion",
       {{{"fit", "sizing", "length"}},
        {{"fabric", "material", "stitching"}},
        {{"style", "color", "design"}},
        {{"comfort", "waistband", "straps"}},
        {{"seams", "zipper", "buttons"}},
        {{"lining", "pockets"}}}},
      {"electronics",
       {{{"battery", "charging", "battery life"}},
        {{"screen", "display", "brightness"}},
        {{"speed", "performance", "processor"}},
        {{"wifi", "bluetooth", "pairing"}},
        {{"case", "buttons", "hinge"}}}},
      {"kitchen",
       {{{"heating", "temperature control", "cooking"}},
        {{"cleanup", "nonstick coating", "dishwasher safety"}},
        {{"handle", "lid", "base"}},
        {{"capacity", "size", "bowl"}},
        {{"controls", "setup", "manual"}}}},
      {"books",
       {{{"plot", "story", "pacing"}},
        {{"characters", "dialogue", "protagonist"}},
        {{"writing", "prose", "style"}},
        {{"ending", "twist", "conclusion"}},
        {{"setting", "worldbuilding", "atmosphere"}},
        {{"research", "detail"}}}},
      {"toys",
       {{{"fun factor", "playtime", "replay value"}},
        {{"edges", "safety", "small parts"}},
        {{"plastic", "durability", "wheels"}},
        {{"assembly", "instructions", "battery door"}},
        {{"learning value", "puzzles", "colors"}}}},
      {"games",
       {{{"graphics", "visuals", "art style"}},
        {{"gameplay", "controls", "combat"}},
        {{"story", "voice acting", "cutscenes"}},
        {{"multiplayer", "matchmaking", "servers"}},
        {{"length", "campaign", "side content"}}}},
  };
  return t;
}

const std::vector<std::vector<std::string>>& sentiment_words() {
  static const std::vector<std::vector<std::string>> w = {
      {"terrible", "awful", "horrible", "dreadful", "atrocious", "useless"},
      {"mediocre", "underwhelming", "lackluster", "weak", "disappointing"},
      {"okay", "average", "acceptable", "ordinary"},
      {"good", "nice", "solid", "pleasant", "decent"},
      {"excellent", "outstanding", "superb", "fantastic", "amazing", "flawless"},
  };
  return w;
}

// Sentence patterns around an aspect noun (N) and a sentiment word (S).
const std::vector<std::vector<std::string>>& aspect_templates() {
  static const std::vector<std::vector<std::string>> t = {
      {"I found the ", "N", " ", "S", "."},          {"S", " ", "N", ", honestly."},
      {"As for the ", "N", ": ", "S", "."},          {"The ", "N", "? ", "S^", "."},
      {"In my opinion the ", "N", " is ", "S", "."},
  };
  return t;
}

const std::vector<std::string>& fillers() {
  static const std::vector<std::string> f = {
      "I bought this for my brother.",
      "It arrived two days after I ordered it.",
      "I have used it for a few weeks now.",
      "The box was plain brown cardboard.",
      "I ordered it last month.",
      "This replaced an older one I had.",
      "A friend recommended it to me.",
      "I use it most days.",
      "It was a gift for my wife.",
      "I read a lot of reviews before buying.",
      "This is my second one.",
      "Shipping was as expected.",
  };
  return f;
}

// Closing remarks by rating (index rating-1): extra signal without the sentiment word lists.
const std::vector<std::vector<std::string>>& closings() {
  static const std::vector<std::vector<std::string>> c = {
      {"Do not buy this.", "Returned it the same week.", "Complete waste of money."},
      {"Not really worth the money.", "I expected more.", "Probably will not buy again."},
      {"It does the job, nothing more.", "Mixed feelings overall.", "Fine for the price."},
      {"Pretty happy with it overall.", "Would buy again.", "Worth the price."},
      {"Highly recommend it.", "Love it.", "Best purchase I made this year."},
  };
  return c;
}

const std::vector<std::vector<std::string>>& summaries() {
  static const std::vector<std::vector<std::string>> s = {
      {"One star", "Avoid", "Waste of money"},   {"Two stars", "Meh", "Not great"},
      {"Three stars", "It's fine", "Mixed bag"}, {"Four stars", "Very nice", "Worth it"},
      {"Five stars", "Love it", "Great buy"},
  };
  return s;
}

const std::vector<std::string>& neutral_summaries() {
  static const std::vector<std::string> s = {"My review", "Thoughts after a month", "Review",
                                             "First impressions"};
  return s;
}

}  // namespace loid::synth_vocab
