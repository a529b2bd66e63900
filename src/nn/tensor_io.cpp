// torch <-> safetensors conversion. Copies always: a SafeTensors buffer may be unaligned for the
// element type and dies with its owner, so tensors never alias it.
#include "nn/tensor_io.h"

#include <cstring>

#include "core/error.h"

namespace loid {

namespace {

DType dtype_of(const torch::Tensor& t, const std::string& name) {
  switch (t.scalar_type()) {
    case torch::kFloat64:
      return DType::F64;
    case torch::kFloat32:
      return DType::F32;
    case torch::kFloat16:
      return DType::F16;
    case torch::kBFloat16:
      return DType::BF16;
    case torch::kInt64:
      return DType::I64;
    case torch::kInt32:
      return DType::I32;
    case torch::kInt16:
      return DType::I16;
    case torch::kInt8:
      return DType::I8;
    case torch::kUInt8:
      return DType::U8;
    case torch::kBool:
      return DType::BOOL;
    default:
      throw UsageError("safetensors: tensor '" + name + "' has dtype " +
                       std::string(c10::toString(t.scalar_type())) + ", which cannot be saved");
  }
}

// torch::empty, turning torch's refusal of a shape (an empty tensor whose strides would overflow,
// e.g. [0, 2^62, 4], which the format allows) into an InputError about the file.
torch::Tensor empty_like_info(const SafeTensors& st, const std::string& name,
                              torch::ScalarType type) {
  try {
    return torch::empty(st.info(name).shape, type);
  } catch (const c10::Error& e) {
    throw InputError(st.origin(), 0,
                     "tensor '" + name + "': shape cannot be made into a torch tensor: " +
                         e.what_without_backtrace());
  }
}

}  // namespace

torch::Tensor tensor_from(const SafeTensors& st, const std::string& name) {
  const TensorInfo& info = st.info(name);
  if (info.dtype == DType::F32) {  // the common case: skip the intermediate vector
    torch::Tensor t = empty_like_info(st, name, torch::kFloat32);
    if (info.nbytes()) std::memcpy(t.data_ptr(), st.data(name), info.nbytes());
    return t;
  }
  if (dtype_is_float(info.dtype)) {
    std::vector<float> v = st.to_f32(name);
    torch::Tensor t = empty_like_info(st, name, torch::kFloat32);
    if (!v.empty()) std::memcpy(t.data_ptr(), v.data(), v.size() * sizeof(float));
    return t;
  }
  std::vector<std::int64_t> v = st.to_i64(name);
  torch::Tensor t = empty_like_info(st, name, torch::kInt64);
  if (!v.empty()) std::memcpy(t.data_ptr(), v.data(), v.size() * sizeof(std::int64_t));
  return t;
}

void add_tensor(SafeTensorsWriter& writer, const std::string& name, const torch::Tensor& t) {
  if (!t.defined()) throw UsageError("safetensors: tensor '" + name + "' is undefined");
  DType dtype = dtype_of(t, name);
  torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  writer.add(name, dtype, c.sizes().vec(), c.data_ptr(), c.nbytes());
}

void save_tensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                  const std::map<std::string, std::string>& metadata) {
  SafeTensorsWriter writer;
  for (const auto& [name, t] : tensors) add_tensor(writer, name, t);
  for (const auto& [k, v] : metadata) writer.set_metadata(k, v);
  writer.write(path);
}

std::map<std::string, torch::Tensor> load_tensors(const std::string& path) {
  SafeTensors st = SafeTensors::load(path);
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : st.tensors()) out.emplace(kv.first, tensor_from(st, kv.first));
  return out;
}

}  // namespace loid
