// Reader and writer for the safetensors format: 8-byte little-endian header length, a JSON header
// mapping tensor name -> {dtype, shape, data_offsets}, then raw little-endian data. Torch-free, so
// every part of the project (and the fuzzer) can use it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace loid {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType d);       // "F32", ...
std::size_t dtype_size(DType d);       // bytes per element
DType dtype_from_name(const std::string& name, const std::string& file);  // throws InputError

struct TensorInfo {
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0;  // byte offset into the data section
  std::size_t end = 0;    // one past the last byte
  std::int64_t numel() const;
};

// A loaded safetensors file. All validation happens in the constructor; on any problem it throws
// InputError naming the file and what is wrong.
class SafeTensors {
 public:
  static SafeTensors load(const std::string& path);                        // reads the file
  static SafeTensors parse(std::string bytes, const std::string& origin);  // from memory

  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // throws naming file and tensor
  const std::uint8_t* data(const std::string& name) const;
  // Values of a tensor converted to float32 (F32, F16, BF16, F64 accepted).
  std::vector<float> to_f32(const std::string& name) const;
  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::string bytes_;
  std::size_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Collects tensors and writes them atomically, names sorted, data 8-byte aligned header.
class SafeTensorsWriter {
 public:
  void add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data,
           std::size_t nbytes);
  void add_f32(const std::string& name, std::vector<std::int64_t> shape, const float* values);
  void set_metadata(const std::string& key, const std::string& value);
  std::string serialize() const;
  void write(const std::string& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::string bytes;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace loid
