// The review-reading flags shared by every subcommand that reads review files (data stats, data
// split, ...), so that they are spelled and documented the same everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include "data/reader.h"
#include "nn/precision.h"
#include "train/loid_train.h"

namespace loid::cli {

// Adds --strict, --text, --duplicates, --repeated-texts, --invalid-utf8 and --max-line-bytes to
// `cmd`, writing into `opts` (which must outlive parsing). Unknown names raise loid::UsageError
// during parsing.
void add_read_options(CLI::App& cmd, loid::ReadOptions& opts);

// Adds --compute-dtype fp32|bf16 (the encoder's arithmetic; nn/precision.h), writing into `dtype`
// (which must outlive parsing).
void add_compute_dtype_option(CLI::App& cmd, loid::ComputeDtype& dtype);

// Adds --encoder-mode frozen|end-to-end, writing into `mode` (which must outlive parsing).
void add_encoder_mode_option(CLI::App& cmd, loid::EncoderMode& mode);

}  // namespace loid::cli
