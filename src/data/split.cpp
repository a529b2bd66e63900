// Seeded review split, cold-start flags and split.tsv (see split.h).
#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/rng.h"

namespace loid {

const char* split_part_name(SplitPart part) {
  switch (part) {
    case SplitPart::kTrain:
      return "train";
    case SplitPart::kValidation:
      return "validation";
    case SplitPart::kTest:
      return "test";
    case SplitPart::kUnused:
      return "unused";
  }
  return "?";
}

void validate_split_options(const SplitOptions& o) {
  if (!(o.train_fraction > 0.0 && o.train_fraction <= 1.0))
    throw UsageError("--train-fraction must be in (0, 1], got " + std::to_string(o.train_fraction));
  const double parts[3] = {o.train, o.validation, o.test};
  const char* names[3] = {"train", "validation", "test"};
  for (int k = 0; k < 3; ++k) {
    if (!(parts[k] > 0.0) || !std::isfinite(parts[k])) {
      throw UsageError(std::string("split ratio for ") + names[k] + " must be positive, got " +
                       std::to_string(parts[k]));
    }
  }
  const double sum = o.train + o.validation + o.test;
  if (std::fabs(sum - 1.0) > 1e-9) {
    std::ostringstream ss;
    ss.precision(12);
    ss << "split ratios must sum to 1, got " << o.train << " + " << o.validation << " + " << o.test
       << " = " << sum;
    throw UsageError(ss.str());
  }
}

void parse_split_ratios(const std::string& text, SplitOptions& options) {
  double values[3];
  std::size_t start = 0;
  for (int k = 0; k < 3; ++k) {
    const std::size_t comma = text.find(',', start);
    if ((k < 2) != (comma != std::string::npos)) {
      throw UsageError(
          "--ratios expects three comma-separated fractions train,validation,test "
          "(e.g. 0.8,0.1,0.1), got '" +
          text + "'");
    }
    const std::string field =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    values[k] = std::strtod(field.c_str(), &end);
    if (field.empty() || end != field.c_str() + field.size()) {
      throw UsageError("--ratios: '" + field + "' is not a number (in '" + text + "')");
    }
    start = comma + 1;
  }
  SplitOptions parsed = options;
  parsed.train = values[0];
  parsed.validation = values[1];
  parsed.test = values[2];
  validate_split_options(parsed);
  options = parsed;
}

SplitSizes split_sizes(std::int64_t n, const SplitOptions& options) {
  validate_split_options(options);
  if (n < 0) throw UsageError("split of a negative number of reviews");
  SplitSizes s;
  s.test = static_cast<std::int64_t>(std::floor(static_cast<double>(n) * options.test + 1e-9));
  s.validation =
      static_cast<std::int64_t>(std::floor(static_cast<double>(n) * options.validation + 1e-9));
  s.train = n - s.test - s.validation;
  return s;
}

std::vector<std::int64_t> split_permutation(std::int64_t n, std::uint64_t seed) {
  Rng root(seed);
  Rng rng = root.fork(kSplitSalt);
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), std::int64_t{0});
  shuffle(perm, rng);
  return perm;
}

std::vector<SplitPart> split_parts(std::int64_t n, const SplitOptions& options) {
  const SplitSizes sizes = split_sizes(n, options);
  const std::vector<std::int64_t> perm = split_permutation(n, options.seed);
  std::vector<SplitPart> part(static_cast<std::size_t>(n), SplitPart::kTrain);
  for (std::int64_t k = 0; k < sizes.test + sizes.validation; ++k) {
    part[static_cast<std::size_t>(perm[static_cast<std::size_t>(k)])] =
        k < sizes.test ? SplitPart::kTest : SplitPart::kValidation;
  }
  return part;
}

const std::vector<std::int64_t>& Split::ids(SplitPart p) const {
  switch (p) {
    case SplitPart::kTrain:
      return train;
    case SplitPart::kValidation:
      return validation;
    case SplitPart::kTest:
      return test;
    case SplitPart::kUnused:
      break;
  }
  throw UsageError("no id list for this split part");
}

Split make_split(const Dataset& dataset, const SplitOptions& options) {
  const std::int64_t n = dataset.num_reviews();
  Split s;
  s.options = options;
  s.part = split_parts(n, options);
  if (options.train_fraction < 1.0) {
    // A seeded sample of the training reviews is kept; the same for every model of a seed.
    std::vector<std::int64_t> train;
    for (std::int64_t r = 0; r < n; ++r)
      if (s.part[static_cast<std::size_t>(r)] == SplitPart::kTrain) train.push_back(r);
    Rng rng = Rng(options.seed).fork(kTrainFractionSalt);
    shuffle(train, rng);
    const auto keep = std::max<std::size_t>(
        1, static_cast<std::size_t>(
               std::floor(static_cast<double>(train.size()) * options.train_fraction + 1e-9)));
    for (std::size_t j = keep; j < train.size(); ++j)
      s.part[static_cast<std::size_t>(train[j])] = SplitPart::kUnused;
  }
  s.cold_user.assign(static_cast<std::size_t>(n), 0);
  s.cold_item.assign(static_cast<std::size_t>(n), 0);

  std::vector<std::uint8_t> user_in_train(static_cast<std::size_t>(dataset.num_users()), 0);
  std::vector<std::uint8_t> item_in_train(static_cast<std::size_t>(dataset.num_items()), 0);
  for (std::int64_t r = 0; r < n; ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (s.part[i] == SplitPart::kTrain) {
      user_in_train[static_cast<std::size_t>(dataset.user_of(r))] = 1;
      item_in_train[static_cast<std::size_t>(dataset.item_of(r))] = 1;
    }
  }

  // Distinct cold users/items are counted once, on their first held-out review.
  std::vector<std::uint8_t> user_counted(user_in_train.size(), 0);
  std::vector<std::uint8_t> item_counted(item_in_train.size(), 0);
  for (std::int64_t r = 0; r < n; ++r) {
    const auto i = static_cast<std::size_t>(r);
    switch (s.part[i]) {
      case SplitPart::kTrain:
        s.train.push_back(r);
        continue;
      case SplitPart::kUnused:
        ++s.counts.unused;
        continue;
      case SplitPart::kValidation:
        s.validation.push_back(r);
        break;
      case SplitPart::kTest:
        s.test.push_back(r);
        break;
    }
    const auto u = static_cast<std::size_t>(dataset.user_of(r));
    const auto it = static_cast<std::size_t>(dataset.item_of(r));
    s.cold_user[i] = user_in_train[u] ? 0 : 1;
    s.cold_item[i] = item_in_train[it] ? 0 : 1;
    s.counts.cold_user_reviews += s.cold_user[i];
    s.counts.cold_item_reviews += s.cold_item[i];
    s.counts.cold_pair_reviews += s.cold_user[i] & s.cold_item[i];
    if (s.cold_user[i] && !user_counted[u]) {
      user_counted[u] = 1;
      ++s.counts.cold_users;
    }
    if (s.cold_item[i] && !item_counted[it]) {
      item_counted[it] = 1;
      ++s.counts.cold_items;
    }
  }
  s.counts.train = static_cast<std::int64_t>(s.train.size());
  s.counts.validation = static_cast<std::int64_t>(s.validation.size());
  s.counts.test = static_cast<std::int64_t>(s.test.size());
  return s;
}

namespace {

// Keeps one id per TSV field whatever characters it holds.
std::string escape_tsv(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Ratings are whole or half stars in practice; %g prints 5 as "5" and 4.5 as "4.5".
std::string format_rating(float r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(r));
  return buf;
}

}  // namespace

void write_split_tsv(const Dataset& dataset, const Split& split, const std::string& path) {
  if (static_cast<std::int64_t>(split.part.size()) != dataset.num_reviews()) {
    throw UsageError("split has " + std::to_string(split.part.size()) +
                     " reviews but dataset has " + std::to_string(dataset.num_reviews()));
  }
  AtomicOutput out(path);
  std::ostream& os = out.stream();
  os << "review\tline\tuser\titem\trating\tsplit\tcold_user\tcold_item\ttime\n";
  for (std::int64_t r = 0; r < dataset.num_reviews(); ++r) {
    const Review& rv = dataset.review(r);
    const auto i = static_cast<std::size_t>(r);
    os << r << '\t' << rv.line << '\t' << escape_tsv(rv.user) << '\t' << escape_tsv(rv.item) << '\t'
       << format_rating(rv.rating) << '\t' << split_part_name(split.part[i]) << '\t'
       << int{split.cold_user[i]} << '\t' << int{split.cold_item[i]} << '\t' << rv.time << '\n';
  }
  out.commit();
}

}  // namespace loid
