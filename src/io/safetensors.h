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

const char* dtype_name(DType d);                                          // "F32", ...
std::size_t dtype_size(DType d);                                          // bytes per element
DType dtype_from_name(const std::string& name, const std::string& file);  // throws InputError
bool dtype_is_float(DType d);                                             // F64, F32, F16, BF16

// Exact IEEE binary16 -> binary32 conversion (subnormals, infinities and NaN payloads kept).
float half_to_float(std::uint16_t h);
// bfloat16 is the top half of a binary32, so this is exact too.
float bf16_to_float(std::uint16_t b);

struct TensorInfo {
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::size_t begin = 0;  // byte offset into the data section
  std::size_t end = 0;    // one past the last byte
  std::int64_t numel() const;
  std::size_t nbytes() const { return end - begin; }
};

// Largest header accepted, as in the reference implementation (a header is a few KB in practice).
constexpr std::uint64_t kMaxSafeTensorsHeader = 100'000'000;

// A loaded safetensors file. All validation happens in load/parse; on any problem they throw
// InputError naming the file, the tensor where there is one, and what is wrong.
//
// Accepted files (the rules of the reference implementation, made explicit):
//  - 8-byte little-endian header size N with N <= kMaxSafeTensorsHeader and 8 + N <= file size;
//  - the N header bytes are one JSON object (trailing spaces allowed, used as padding) with no
//    duplicate keys; "__metadata__", when present, is an object of string values;
//  - every other key is a tensor whose value is an object with "dtype" (a known name), "shape"
//    (array of non-negative integers) and "data_offsets" ([begin, end] non-negative integers,
//    begin <= end); other keys inside an entry are ignored, as the reference does;
//  - end - begin == product(shape) * dtype_size, computed without overflow;
//  - the tensors, ordered by offset, tile the data section exactly: no overlaps, no gaps and no
//    trailing bytes after the last tensor (zero-size tensors may sit at any tile boundary).
class SafeTensors {
 public:
  static SafeTensors load(const std::string& path);                        // reads the file
  static SafeTensors parse(std::string bytes, const std::string& origin);  // from memory

  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // throws naming file and tensor
  // Raw little-endian bytes of a tensor (info(name).nbytes() of them). Not necessarily aligned
  // for the element type: read through memcpy.
  const std::uint8_t* data(const std::string& name) const;
  // Values of a tensor converted to float32 (F32, F16, BF16, F64 accepted; F64 values beyond the
  // float range become +-inf, as an IEEE cast would).
  std::vector<float> to_f32(const std::string& name) const;
  // Values of an integer or BOOL tensor widened to int64 (I64, I32, I16, I8, U8, BOOL accepted).
  std::vector<std::int64_t> to_i64(const std::string& name) const;
  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::string bytes_;
  std::size_t data_start_ = 0;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Collects tensors and writes them atomically. Header keys: "__metadata__" first (when set), then
// tensor names sorted; entries written as {"dtype","shape","data_offsets"}; header padded with
// spaces to a multiple of 8 bytes. Data laid out by decreasing element size, then name, so that
// every tensor starts at a multiple of its element size (the reference writer does the same).
class SafeTensorsWriter {
 public:
  // Copies `nbytes` little-endian bytes; throws UsageError on a duplicate or reserved name,
  // negative dimension or a byte count that does not match the shape.
  void add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, const void* data,
           std::size_t nbytes);
  void add_f32(const std::string& name, std::vector<std::int64_t> shape, const float* values);
  void set_metadata(const std::string& key, const std::string& value);
  std::size_t size() const { return entries_.size(); }
  std::string serialize() const;
  void write(const std::string& path) const;  // atomic: temp file + rename

 private:
  struct Entry {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::string bytes;
  };
  std::string header() const;  // padded JSON header (without the 8-byte length)
  std::vector<const std::pair<const std::string, Entry>*> layout() const;  // data order
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace loid
