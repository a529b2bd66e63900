// `loid data split` (see split_command.h).
#include "data/split_command.h"

#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "data/dataset.h"

namespace loid {

DataSplitResult run_data_split(const DataSplitOptions& options) {
  validate_split_options(options.split);
  if (options.out_dir.empty()) throw UsageError("an output directory (--out) is required");
  ReviewFile file = read_reviews(options.input, options.read);
  DataSplitResult result;
  result.read = std::move(file.report);
  if (file.reviews.empty()) {
    throw InputError(options.input, 0, "no usable reviews to split");
  }
  const Dataset dataset(std::move(file.reviews));
  const Split split = make_split(dataset, options.split);
  make_dirs(options.out_dir);
  result.tsv_path = options.out_dir + "/split.tsv";
  write_split_tsv(dataset, split, result.tsv_path);
  result.users = dataset.num_users();
  result.items = dataset.num_items();
  result.counts = split.counts;
  return result;
}

std::string describe_split_result(const DataSplitResult& r, const SplitOptions& o) {
  const SplitCounts& c = r.counts;
  std::ostringstream ss;
  ss << r.read.file << ": " << r.read.kept << " reviews kept, " << r.read.skipped_total()
     << " lines skipped; " << r.users << " users, " << r.items << " items\n";
  ss << "split seed " << o.seed << " (" << o.train << "/" << o.validation << "/" << o.test
     << "): train " << c.train << ", validation " << c.validation << ", test " << c.test << "\n";
  ss << "cold start (validation+test): " << c.cold_users << " cold users (" << c.cold_user_reviews
     << " reviews), " << c.cold_items << " cold items (" << c.cold_item_reviews << " reviews), "
     << c.cold_pair_reviews << " reviews with both cold\n";
  ss << "wrote " << r.tsv_path << "\n";
  return ss.str();
}

}  // namespace loid
