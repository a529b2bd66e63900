// Shared review-reading flags; names are turned into enums by the library (data/reader.h).
#include "read_options.h"

#include <string>

namespace loid::cli {

void add_read_options(CLI::App& cmd, loid::ReadOptions& opts) {
  cmd.add_flag("--strict", opts.strict, "Stop with an error at the first bad line");
  cmd.add_option_function<std::string>(
         "--text", [&opts](const std::string& v) { opts.text = loid::text_fields_from_name(v); },
         "Review text the models read: summary+review, review or summary")
      ->type_name("FIELDS")
      ->default_str(loid::name_of(opts.text));
  cmd.add_option_function<std::string>(
         "--duplicates",
         [&opts](const std::string& v) { opts.duplicates = loid::duplicate_policy_from_name(v); },
         "Repeated (user, item) pairs: keep the latest (by time; ties: later line), the first, "
         "or all")
      ->type_name("latest|first|all")
      ->default_str(loid::name_of(opts.duplicates));
  cmd.add_option_function<std::string>(
         "--repeated-texts",
         [&opts](const std::string& v) {
           opts.repeated_texts = loid::repeated_text_policy_from_name(v);
         },
         "A user's review repeating, word for word, an earlier review of that user (Amazon 2018 "
         "files post one review on every variant of an item): keep, or drop (the first stays)")
      ->type_name("keep|drop")
      ->default_str(loid::name_of(opts.repeated_texts));
  cmd.add_option_function<std::string>(
         "--invalid-utf8",
         [&opts](const std::string& v) { opts.invalid_utf8 = loid::utf8_policy_from_name(v); },
         "Lines with invalid UTF-8: repair (U+FFFD, counted) or skip")
      ->type_name("repair|skip")
      ->default_str(loid::name_of(opts.invalid_utf8));
  cmd.add_option("--max-line-bytes", opts.max_line_bytes,
                 "Skip lines longer than this many bytes (\"line too long\")")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 34))
      ->capture_default_str();
}

void add_compute_dtype_option(CLI::App& cmd, loid::ComputeDtype& dtype) {
  cmd.add_option_function<std::string>(
         "--compute-dtype",
         [&dtype](const std::string& s) { dtype = loid::parse_compute_dtype(s); },
         "The encoder's arithmetic: fp32, or bf16 (bfloat16 autocast: faster matrix multiplies on "
         "CPUs with AVX512-BF16 or AMX, about 3 significant digits; opt-in, see BENCHMARKS.md)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->default_str("fp32");
}

void add_encoder_mode_option(CLI::App& cmd, loid::EncoderMode& mode) {
  cmd.add_option_function<std::string>(
         "--encoder-mode", [&mode](const std::string& s) { mode = loid::parse_encoder_mode(s); },
         "frozen: review vectors computed once after Re-LoRA; end-to-end: the target adapter keeps "
         "training with the LoID loss (slow)")
      ->check(CLI::IsMember({"frozen", "end-to-end"}))
      ->default_str("frozen");
}

}  // namespace loid::cli
