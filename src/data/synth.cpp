// Synthetic Amazon-style corpora (see synth.h). The story: each domain has its own aspects (with a
// few nouns each); users have a bias and taste weights over aspects, items a bias and a quality per
// aspect; rating = clamp(round(mean + user bias + item bias + strength * sum_a taste_a * quality_a
// + noise), 1, 5). A review talks about aspects its writer cares about, with sentiment words whose
// strength follows the item's quality on that aspect and the rating, plus neutral filler and some
// off-topic noise, so the text carries real but imperfect signal about the rating.
#include "data/synth.h"

#include <zlib.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "core/rng.h"
#include "data/synth_vocab.h"
#include "core/strings.h"

namespace loid {

namespace {

using namespace synth_vocab;  // word lists and the Theme/Aspect types

// ---- Random helpers (only loid::Rng; no libm calls, so files are identical across platforms) ----

// Approximately standard normal: sum of 12 uniforms minus 6 (Irwin-Hall). Only additions, so
// unlike Box-Muller (log, cos) it cannot differ between math libraries.
double normal(Rng& rng) {
  double s = 0.0;
  for (int k = 0; k < 12; ++k) s += rng.uniform();
  return s - 6.0;
}

template <typename T>
const T& pick(const std::vector<T>& v, Rng& rng) {
  return v[static_cast<std::size_t>(rng.below(v.size()))];
}

// Index drawn with probability proportional to weights[i] (cumulative sums given).
std::size_t draw_weighted(const std::vector<double>& cumulative, Rng& rng) {
  const double x = rng.uniform() * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), x);
  return std::min(static_cast<std::size_t>(it - cumulative.begin()), cumulative.size() - 1);
}

// Amazon-looking id: `prefix` then random upper-case letters and digits, unique within `used`.
std::string make_id(const std::string& prefix, std::size_t length, Rng& rng,
                    std::unordered_set<std::string>& used) {
  static const char kChars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  while (true) {
    std::string id = prefix;
    while (id.size() < length) id += kChars[rng.below(36)];
    if (used.insert(id).second) return id;
  }
}

std::string capitalize(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// ---- Latent model -------------------------------------------------------------------------------

constexpr double kGlobalMean = 3.85;                   // before biases; Amazon ratings skew high
constexpr std::int64_t kFirstDay = 13879;              // 2008-01-01 in days since the epoch
constexpr std::uint64_t kSynthSalt = 0x73796e7468ULL;  // "synth"

struct User {
  std::string id;
  double bias = 0.0;
  std::vector<double> taste;  // non-negative, sums to 1
  std::int64_t first_day = 0;
  std::int64_t reviews = 0;  // planned number of reviews
};

struct Item {
  std::string id;
  double bias = 0.0;
  std::vector<double> quality;  // per aspect, about N(0, 1)
};

Sentiment sentiment_of(double score) {
  if (score > 1.0) return Sentiment::kStrongPositive;
  if (score > 0.35) return Sentiment::kMildPositive;
  if (score >= -0.35) return Sentiment::kNeutral;
  if (score >= -1.0) return Sentiment::kMildNegative;
  return Sentiment::kStrongNegative;
}

std::string aspect_sentence(const Aspect& aspect, Sentiment s, Rng& rng) {
  const std::string& noun = pick(aspect.nouns, rng);
  const std::string& word = pick(synth_sentiment_words(s), rng);
  std::string out;
  for (const std::string& part : pick(aspect_templates(), rng)) {
    out += part == "N" ? noun : part == "S" ? word : part == "S^" ? capitalize(word) : part;
  }
  return capitalize(out);
}

// Writes the review text and summary for a (user, item, rating).
void write_text(const Theme& theme, const User& user, const Item& item, int rating,
                double rating_words, Rng& rng, SynthReview& out) {
  const std::size_t n_aspects = theme.aspects.size();
  std::vector<std::string> sentences;
  sentences.push_back(pick(fillers(), rng));
  // Aspects the user cares about, drawn by taste without replacement.
  std::vector<double> weights = user.taste;
  const std::size_t mentions = std::min<std::size_t>(1 + rng.below(3), n_aspects);
  for (std::size_t m = 0; m < mentions; ++m) {
    std::vector<double> cumulative(n_aspects);
    double total = 0.0;
    for (std::size_t a = 0; a < n_aspects; ++a) cumulative[a] = total += weights[a] + 1e-6;
    const std::size_t a = draw_weighted(cumulative, rng);
    weights[a] = -1e-6;  // zero after the +1e-6 above: not drawn again
    const double score =
        0.8 * item.quality[a] + 0.4 * rating_words * (rating - 3.5) + 0.35 * normal(rng);
    sentences.push_back(aspect_sentence(theme.aspects[a], sentiment_of(score), rng));
  }
  if (rng.uniform() < 0.15) {  // off-topic noise: any aspect, any sentiment
    const auto s = static_cast<Sentiment>(rng.below(5));
    sentences.push_back(aspect_sentence(pick(theme.aspects, rng), s, rng));
  }
  if (rng.uniform() < 0.5 * rating_words) sentences.push_back(pick(closings()[rating - 1], rng));
  if (rng.uniform() < 0.3) sentences.push_back(pick(fillers(), rng));
  shuffle(sentences, rng);
  out.text.clear();
  for (const std::string& s : sentences) out.text += (out.text.empty() ? "" : " ") + s;
  out.summary = rng.uniform() < 0.7 * rating_words ? pick(summaries()[rating - 1], rng)
                                                   : pick(neutral_summaries(), rng);
}

void validate(const SynthOptions& o) {
  if (o.domains < 1 || o.domains > synth_theme_count()) {
    throw UsageError("--domains must be between 1 and " + std::to_string(synth_theme_count()) +
                     ", got " + std::to_string(o.domains));
  }
  if (o.users < 5 || o.users > 10000000) {
    throw UsageError(
        "--users must be between 5 and 10000000 (5-core needs 5 reviewers per item), got " +
        std::to_string(o.users));
  }
  if (o.items < 5 || o.items > 10000000) {
    throw UsageError("--items must be between 5 and 10000000, got " + std::to_string(o.items));
  }
  if (o.min_reviews < 1 || o.min_reviews > 5) {
    throw UsageError("--min-reviews must be between 1 and 5 (5 = 5-core), got " +
                     std::to_string(o.min_reviews));
  }
  if (o.reviews_per_user < o.min_reviews || o.reviews_per_user > o.items) {
    throw UsageError("--reviews-per-user must be between --min-reviews (" +
                     std::to_string(o.min_reviews) + ") and --items (" + std::to_string(o.items) +
                     "), got " + std::to_string(o.reviews_per_user));
  }
  if (!(o.bias_scale >= 0) || !(o.interaction >= 0) || !(o.noise >= 0) || !(o.rating_words >= 0) ||
      o.rating_words > 1) {
    throw UsageError(
        "--bias-scale, --interaction and --noise must be >= 0 and --rating-words in "
        "[0, 1]");
  }
}

// "MM DD, YYYY" as in Amazon's reviewTime (civil-from-days, H. Hinnant's algorithm).
std::string review_date(std::int64_t unix_seconds) {
  const std::int64_t z = unix_seconds / 86400 + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d %02d, %04d", static_cast<int>(month), static_cast<int>(day),
                static_cast<int>(year));
  return buf;
}

// Streams gzip (deflate with a gzip header, mtime 0) into an output stream.
class GzipWriter {
 public:
  GzipWriter(std::ostream& out, const std::string& path) : out_(out), path_(path) {
    if (deflateInit2(&zs_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw Error("zlib: cannot initialise gzip compression for " + path);
    }
  }
  ~GzipWriter() { deflateEnd(&zs_); }
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;

  void write(const std::string& data) { pump(data.data(), data.size(), Z_NO_FLUSH); }
  void finish() { pump(nullptr, 0, Z_FINISH); }

 private:
  void pump(const char* data, std::size_t size, int flush) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs_.avail_in = static_cast<uInt>(size);
    char buf[1 << 15];
    int rc;
    do {
      zs_.next_out = reinterpret_cast<Bytef*>(buf);
      zs_.avail_out = sizeof buf;
      rc = deflate(&zs_, flush);
      if (rc == Z_STREAM_ERROR) throw Error("zlib: deflate failed for " + path_);
      out_.write(buf, static_cast<std::streamsize>(sizeof buf - zs_.avail_out));
    } while (zs_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }

  std::ostream& out_;
  std::string path_;
  z_stream zs_{};
};

}  // namespace

const std::vector<std::string>& synth_sentiment_words(Sentiment s) {
  return sentiment_words()[static_cast<std::size_t>(s)];
}

int synth_theme_count() {
  return static_cast<int>(themes().size());
}

std::string synth_theme_name(int domain) {
  return themes()[static_cast<std::size_t>((domain - 1) % synth_theme_count())].name;
}

std::vector<SynthReview> synth_domain(const SynthOptions& o, int domain) {
  validate(o);
  if (domain < 1 || domain > synth_theme_count()) {
    throw UsageError("synth domain " + std::to_string(domain) + " out of range");
  }
  const Theme& theme = themes()[static_cast<std::size_t>(domain - 1)];
  const std::size_t n_aspects = theme.aspects.size();
  Rng base(o.seed);
  Rng rng = base.fork(kSynthSalt + static_cast<std::uint64_t>(domain));
  // Separate streams so a change in, say, the text templates leaves ids and ratings alone.
  Rng id_rng = rng.fork(1), latent_rng = rng.fork(2), graph_rng = rng.fork(3),
      text_rng = rng.fork(4);

  std::unordered_set<std::string> used;
  std::vector<User> users(static_cast<std::size_t>(o.users));
  // Extra reviews beyond min_reviews are geometric with mean reviews_per_user - min_reviews.
  const double extra = o.reviews_per_user - static_cast<double>(o.min_reviews);
  const double p_more = extra / (extra + 1.0);
  for (User& u : users) {
    u.id = make_id("A", 14, id_rng, used);
    u.bias = o.bias_scale * normal(latent_rng);
    u.taste.resize(n_aspects);
    double sum = 0.0;
    for (double& w : u.taste) {
      const double x = latent_rng.uniform();
      sum += w = x * x * x;  // cubed: most users care about one or two aspects
    }
    for (double& w : u.taste) w = sum > 0 ? w / sum : 1.0 / static_cast<double>(n_aspects);
    u.first_day = kFirstDay + static_cast<std::int64_t>(latent_rng.below(6 * 365));
    u.reviews = o.min_reviews;
    while (u.reviews < o.items && latent_rng.uniform() < p_more) ++u.reviews;
  }
  std::vector<Item> items(static_cast<std::size_t>(o.items));
  for (Item& it : items) {
    it.id = make_id("B00", 10, id_rng, used);
    it.bias = o.bias_scale * normal(latent_rng);
    it.quality.resize(n_aspects);
    double total_quality = 0.0;
    for (double& q : it.quality) total_quality += q = normal(latent_rng);
    if (o.centered_quality)
      for (double& q : it.quality) q -= total_quality / static_cast<double>(n_aspects);
  }

  // Who reviews what: popularity 1/(rank + c), a soft Zipf law; then top up items below 5.
  const std::size_t n_items = items.size();
  std::vector<double> cumulative(n_items);
  double total = 0.0;
  const double c = 1.0 + static_cast<double>(n_items) / 20.0;
  for (std::size_t i = 0; i < n_items; ++i)
    cumulative[i] = total += 1.0 / (static_cast<double>(i) + c);
  std::unordered_set<std::uint64_t> pairs;  // user * n_items + item
  std::vector<std::pair<std::size_t, std::size_t>> edges;
  std::vector<std::int64_t> item_count(n_items, 0);
  const auto add = [&](std::size_t u, std::size_t i) {
    if (!pairs.insert(static_cast<std::uint64_t>(u) * n_items + i).second) return false;
    edges.emplace_back(u, i);
    ++item_count[i];
    return true;
  };
  for (std::size_t u = 0; u < users.size(); ++u) {
    const auto want = static_cast<std::size_t>(users[u].reviews);
    if (want * 2 > n_items) {  // dense user: uniform distinct items (rejection would crawl)
      std::vector<std::size_t> all(n_items);
      for (std::size_t i = 0; i < n_items; ++i) all[i] = i;
      shuffle(all, graph_rng);
      for (std::size_t k = 0; k < want; ++k) add(u, all[k]);
    } else {
      std::size_t have = 0;
      while (have < want) have += add(u, draw_weighted(cumulative, graph_rng));
    }
  }
  for (std::size_t i = 0; i < n_items; ++i) {
    while (item_count[i] < 5) add(static_cast<std::size_t>(graph_rng.below(users.size())), i);
  }

  std::vector<SynthReview> out(edges.size());
  Progress progress("synth " + theme.name, static_cast<std::int64_t>(edges.size()), o.progress);
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const User& u = users[edges[e].first];
    const Item& it = items[edges[e].second];
    double interaction = 0.0;
    for (std::size_t a = 0; a < n_aspects; ++a) interaction += u.taste[a] * it.quality[a];
    const double x =
        kGlobalMean + u.bias + it.bias + o.interaction * interaction + o.noise * normal(latent_rng);
    SynthReview& r = out[e];
    r.user = u.id;
    r.item = it.id;
    r.rating = static_cast<int>(std::min(5.0, std::max(1.0, std::floor(x + 0.5))));
    r.time = (u.first_day + static_cast<std::int64_t>(latent_rng.below(730))) * 86400;
    write_text(theme, u, it, r.rating, o.rating_words, text_rng, r);
    if (e % 1024 == 1023) progress.advance(1024);
  }
  progress.advance(static_cast<std::int64_t>(edges.size() % 1024));
  progress.finish();
  std::sort(out.begin(), out.end(), [](const SynthReview& a, const SynthReview& b) {
    if (a.item != b.item) return a.item < b.item;
    if (a.time != b.time) return a.time < b.time;
    return a.user < b.user;
  });
  return out;
}

std::string synth_json_line(const SynthReview& r) {
  nlohmann::ordered_json j;
  j["reviewerID"] = r.user;
  j["asin"] = r.item;
  j["reviewText"] = r.text;
  j["overall"] = static_cast<double>(r.rating);
  j["summary"] = r.summary;
  j["unixReviewTime"] = r.time;
  j["reviewTime"] = review_date(r.time);
  return j.dump();
}

std::vector<std::string> synth_output_paths(const std::string& out, int domains) {
  if (domains <= 1) return {out};
  const std::size_t slash = out.find_last_of('/');
  const std::size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  std::size_t dot = out.find_last_of('.');
  if (dot != std::string::npos && dot > name_start && ends_with(out, ".gz")) {
    const std::size_t inner = out.find_last_of('.', dot - 1);
    if (inner != std::string::npos && inner > name_start) dot = inner;
  }
  if (dot == std::string::npos || dot <= name_start) dot = out.size();
  std::vector<std::string> paths;
  for (int k = 1; k <= domains; ++k) {
    paths.push_back(out.substr(0, dot) + "_d" + std::to_string(k) + out.substr(dot));
  }
  return paths;
}

std::vector<std::string> write_synth_corpus(const SynthOptions& o) {
  validate(o);
  if (o.out.empty()) throw UsageError("an output file (--out) is required");
  const std::vector<std::string> paths = synth_output_paths(o.out, o.domains);
  for (int k = 1; k <= o.domains; ++k) {
    const std::string& path = paths[static_cast<std::size_t>(k - 1)];
    const std::vector<SynthReview> reviews = synth_domain(o, k);
    AtomicOutput out(path);
    if (ends_with(path, ".gz")) {
      GzipWriter gz(out.stream(), path);
      for (const SynthReview& r : reviews) gz.write(synth_json_line(r) + "\n");
      gz.finish();
    } else {
      for (const SynthReview& r : reviews) out.stream() << synth_json_line(r) << '\n';
    }
    out.commit();
  }
  return paths;
}

}  // namespace loid
