// `loid data split` (see split_command.h).
#include "data/split_command.h"

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

}  // namespace loid
