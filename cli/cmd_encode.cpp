// `loid encode`: one vector per text of a reviews file or {"text": ...} JSON-lines file, written
// as a safetensors file with one "vectors" tensor (N x D, F32) in input order.
#include <memory>

#include "commands.h"
#include "loid_flags.h"
#include "nn/encode.h"
#include "read_options.h"
#include "train/distributed.h"

namespace loid::cli {

void add_encode(CLI::App& app) {
  auto opts = std::make_shared<loid::EncodeFileOptions>();
  CLI::App* cmd = app.add_subcommand(
      "encode", "Encode texts (reviews file or {\"text\": ...} JSON lines) into vectors");
  cmd->add_option("--encoder", opts->encoder_dir,
                  "Model directory (Hugging Face BERT or converted USE-Lite); default: the "
                  "installed USE-Lite in models/use_lite");
  cmd->add_option("--input", opts->input,
                  "Reviews file (JSON lines, gz, TSV/CSV) or JSON lines "
                  "of {\"text\": ...}")
      ->required();
  cmd->add_option("--out", opts->output, "Output .safetensors with tensor \"vectors\" (N x D)")
      ->required();
  cmd->add_option("--pooling", opts->pooling,
                  "cls, pooler or mean (BERT); sentence (USE-Lite); last or mean (GPT-2)")
      ->check(CLI::IsMember({"default", "cls", "pooler", "mean", "sentence", "last"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", opts->batch_size, "Texts per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-length", opts->max_length,
                  "Tokens per text incl. [CLS]/[SEP] (BERT); 0 = the model's limit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag_function(
      "--no-progress", [opts](std::int64_t) { opts->progress = false; },
      "Do not draw a progress bar");
  add_compute_dtype_option(*cmd, opts->dtype);
  add_device_flag(*cmd, opts->device);
  add_threads_flag(*cmd, opts->threads);
  auto dist = std::make_shared<loid::DistOptions>();
  add_distributed_flags(*cmd, *dist);
  cmd->callback([opts, dist] {
    launch_or_join(*dist);
    // Each rank encodes its share of the texts; rank 0 gathers them all and writes the file.
    if (loid::distributed().active()) {
      opts->encode = loid::encode_texts_sharded;
      opts->write = loid::distributed().main();
    }
    loid::encode_file(*opts);
  });
}

}  // namespace loid::cli
