// A skip for tests that compare a CUDA GPU with the CPU (CTest label `cuda`), naming why there is
// no GPU: the libtorch was built without CUDA, or none is visible. For torch test files only.
#pragma once

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "nn/device.h"

#define REQUIRE_CUDA()                                                                         \
  if (!torch::cuda::is_available())                                                            \
  GTEST_SKIP() << "no CUDA GPU: "                                                              \
               << (::loid::cuda_built() ? "none visible to this process"                       \
                                        : "libtorch " TORCH_VERSION " was built without CUDA") \
               << " (build against a CUDA libtorch and run on a GPU: scripts/gpu-check.sh)"
