// A small portable random generator: the same sequence on every machine, compiler and standard
// library (std::shuffle and the std distributions are implementation-defined, so we never use them
// where results must be reproducible).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace loid {

// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, trivially seedable.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next_u64() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform integer in [0, n), n > 0, without modulo bias (rejection sampling).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do {
      x = next_u64();
    } while (x >= limit);
    return x % n;
  }

  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // Derives an independent generator for a named purpose (e.g. "split", "history").
  Rng fork(std::uint64_t salt) { return Rng(next_u64() ^ (salt * 0xD1B54A32D192ED03ULL)); }

 private:
  std::uint64_t state_;
};

// Fisher-Yates shuffle driven by Rng; identical result everywhere for the same seed.
template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    std::size_t j = static_cast<std::size_t>(rng.below(i));
    std::swap(v[i - 1], v[j]);
  }
}

}  // namespace loid
