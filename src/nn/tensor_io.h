// Bridges between safetensors files and torch tensors: read a tensor into an owning CPU tensor,
// add a torch tensor to a writer, and whole-file save/load conveniences.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

#include "io/safetensors.h"

namespace loid {

// The tensor `name` of `st` as an owning CPU tensor of its shape: float32 for F32/F16/BF16/F64
// (exact for all but F64), int64 for I64/I32/I16/I8/U8/BOOL. Throws InputError naming the file and
// the tensor when it is absent.
torch::Tensor tensor_from(const SafeTensors& st, const std::string& name);

// Adds a contiguous CPU copy of `t` (float32/64, half, bfloat16, int64/32/16/8, uint8, bool) under
// `name`, keeping its dtype. Throws UsageError for an undefined tensor or another dtype.
void add_tensor(SafeTensorsWriter& writer, const std::string& name, const torch::Tensor& t);

// Writes all tensors (and optional string metadata) to `path` atomically.
void save_tensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata = {});

// Reads every tensor of a file, converted as tensor_from does.
std::map<std::string, torch::Tensor> load_tensors(const std::string& path);

}  // namespace loid
