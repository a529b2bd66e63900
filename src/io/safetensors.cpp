// safetensors reader (validates every byte of untrusted input, see the rules in safetensors.h) and
// writer (deterministic layout, atomic write).
#include "io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/fs.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader assumes a little-endian host"
#endif

namespace loid {

namespace {

using json = nlohmann::json;

struct DTypeRow {
  DType dtype;
  const char* name;
  std::size_t size;
};

constexpr DTypeRow kDTypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
};

const DTypeRow& row(DType d) {
  for (const auto& r : kDTypes)
    if (r.dtype == d) return r;
  throw UsageError("invalid DType value " + std::to_string(static_cast<int>(d)));
}

// Names and strings from hostile files can be huge or binary; keep messages short and printable.
std::string quote(const std::string& s) {
  constexpr std::size_t kMax = 80;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  return out + "'";
}

std::string tensor_ref(const std::string& name) {
  return "tensor " + quote(name);
}

// a * b in uint64, false on overflow.
bool mul_u64(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// First pass over the header with a SAX handler: finds syntax errors, duplicate keys at the two
// levels that carry meaning (tensor names, fields of an entry), which nlohmann's DOM would resolve
// silently by keeping one, and absurd nesting, before any DOM is built. (nlohmann's callback parser
// could check keys too, but it rescans the parent object at every end_object: quadratic in the
// tensor count.)
class HeaderScan : public nlohmann::json_sax<json> {
 public:
  static constexpr std::size_t kMaxDepth = 64;  // a real header nests 3 deep

  std::string error;          // parse error message, or the duplicate key / depth problem
  bool duplicate = false;     // error is about a duplicate key
  std::size_t dup_depth = 0;  // 1: tensor name, 2: inside an entry

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    if (!push()) return false;
    if (depth_ < keys_.size()) keys_[depth_].clear();
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ < keys_.size() && !keys_[depth_].insert(k).second) {
      error = k;
      duplicate = true;
      dup_depth = depth_;
      return false;
    }
    return true;
  }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override { return push(); }
  bool end_array() override { return pop(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    error = e.what();
    auto pos = error.find("] ");  // drop nlohmann's "[json.exception.parse_error.101] " prefix
    if (pos != std::string::npos) error = error.substr(pos + 2);
    return false;
  }

 private:
  bool push() {
    if (++depth_ > kMaxDepth) {
      error = "nests deeper than " + std::to_string(kMaxDepth) + " levels";
      return false;
    }
    return true;
  }
  bool pop() {
    --depth_;
    return true;
  }
  std::size_t depth_ = 0;
  std::vector<std::set<std::string>> keys_ = std::vector<std::set<std::string>>(3);
};

json parse_header(const std::string& bytes, std::size_t begin, std::size_t end,
                  const std::string& origin) {
  // nlohmann's lexer takes a NUL byte for the end of input and would silently ignore whatever
  // follows; raw NUL is never valid JSON, so reject it up front.
  const char* first = bytes.data() + begin;
  const char* last = bytes.data() + end;
  if (const void* nul = std::memchr(first, '\0', end - begin)) {
    throw InputError(origin, 0,
                     "header is not valid JSON: NUL byte at header offset " +
                         std::to_string(static_cast<const char*>(nul) - first));
  }
  HeaderScan scan;
  if (!json::sax_parse(first, last, &scan)) {
    if (scan.duplicate) {
      throw InputError(
          origin, 0,
          "header has duplicate key " + quote(scan.error) +
              (scan.dup_depth == 1 ? " (tensor names must be unique)" : " inside a header entry"));
    }
    if (scan.error.rfind("nests", 0) == 0) throw InputError(origin, 0, "header " + scan.error);
    throw InputError(origin, 0, "header is not valid JSON: " + scan.error);
  }
  json header;
  try {
    header = json::parse(first, last);
  } catch (const json::exception& e) {  // the scan accepted it, so this is not expected
    throw InputError(origin, 0, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) {
    throw InputError(origin, 0,
                     std::string("header must be a JSON object, found ") + header.type_name());
  }
  return header;
}

// Reads a JSON array of non-negative integers (shape or data_offsets) of one tensor.
std::vector<std::uint64_t> read_uints(const json& v, const char* field, const std::string& name,
                                      const std::string& origin) {
  if (!v.is_array()) {
    throw InputError(origin, 0,
                     tensor_ref(name) + ": \"" + field + "\" must be an array of integers, found " +
                         v.type_name());
  }
  std::vector<std::uint64_t> out;
  out.reserve(v.size());
  for (const auto& x : v) {
    if (x.is_number_unsigned()) {
      out.push_back(x.get<std::uint64_t>());
    } else if (x.is_number_integer()) {  // signed in nlohmann means negative here
      throw InputError(origin, 0,
                       tensor_ref(name) + ": \"" + field + "\" has a negative value " +
                           std::to_string(x.get<std::int64_t>()));
    } else {
      throw InputError(origin, 0,
                       tensor_ref(name) + ": \"" + field + "\" must contain only integers, found " +
                           (x.is_number_float() ? std::string("a non-integer number")
                                                : std::string(x.type_name())));
    }
  }
  return out;
}

const json& member(const json& entry, const char* key, const std::string& name,
                   const std::string& origin) {
  auto it = entry.find(key);
  if (it == entry.end()) {
    throw InputError(origin, 0, tensor_ref(name) + ": entry is missing \"" + key + "\"");
  }
  return *it;
}

TensorInfo read_entry(const std::string& name, const json& entry, std::uint64_t data_size,
                      const std::string& origin) {
  if (!entry.is_object()) {
    throw InputError(origin, 0,
                     tensor_ref(name) +
                         ": entry must be an object with dtype, shape and "
                         "data_offsets, found " +
                         entry.type_name());
  }
  const json& dt = member(entry, "dtype", name, origin);
  const json& sh = member(entry, "shape", name, origin);
  const json& off = member(entry, "data_offsets", name, origin);
  if (!dt.is_string()) {
    throw InputError(origin, 0,
                     tensor_ref(name) + ": \"dtype\" must be a string, found " + dt.type_name());
  }
  TensorInfo info;
  try {
    info.dtype = dtype_from_name(dt.get_ref<const std::string&>(), origin);
  } catch (const InputError& e) {
    throw InputError(origin, 0, tensor_ref(name) + ": " + e.problem());
  }
  // Every prefix product must fit in int64 (not just uint64), so that TensorInfo::numel() and
  // torch, which multiply in int64, never overflow either.
  constexpr auto kMaxI64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t numel = 1;
  for (std::uint64_t d : read_uints(sh, "shape", name, origin)) {
    if (d > kMaxI64 || !mul_u64(numel, d, &numel) || numel > kMaxI64) {
      throw InputError(origin, 0,
                       tensor_ref(name) + ": shape is too large (element count overflows)");
    }
    info.shape.push_back(static_cast<std::int64_t>(d));
  }
  std::vector<std::uint64_t> o = read_uints(off, "data_offsets", name, origin);
  if (o.size() != 2) {
    throw InputError(origin, 0,
                     tensor_ref(name) + ": \"data_offsets\" must be [begin, end], found " +
                         std::to_string(o.size()) + " values");
  }
  std::string range = "[" + std::to_string(o[0]) + ", " + std::to_string(o[1]) + "]";
  if (o[0] > o[1]) {
    throw InputError(origin, 0, tensor_ref(name) + ": data_offsets " + range + " have begin > end");
  }
  if (o[1] > data_size) {
    throw InputError(origin, 0,
                     tensor_ref(name) + ": data_offsets " + range +
                         " go past the end of the data section (" + std::to_string(data_size) +
                         " bytes)");
  }
  std::uint64_t expected = 0;
  if (!mul_u64(numel, dtype_size(info.dtype), &expected) || expected != o[1] - o[0]) {
    throw InputError(origin, 0,
                     tensor_ref(name) + ": byte length " + std::to_string(o[1] - o[0]) +
                         " does not match " + std::to_string(numel) + " elements of " +
                         dtype_name(info.dtype));
  }
  info.begin = static_cast<std::size_t>(o[0]);
  info.end = static_cast<std::size_t>(o[1]);
  return info;
}

// The tensors must tile the data section exactly (the reference rejects gaps, overlaps and
// trailing bytes, which would otherwise hide data or alias two tensors).
void check_coverage(const std::map<std::string, TensorInfo>& tensors, std::uint64_t data_size,
                    const std::string& origin) {
  std::vector<std::tuple<std::size_t, std::size_t, const std::string*>> spans;
  spans.reserve(tensors.size());
  for (const auto& [name, info] : tensors) spans.emplace_back(info.begin, info.end, &name);
  // By offsets, then name (not pointer), so that the message is deterministic.
  std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
    if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) < std::get<1>(b);
    return *std::get<2>(a) < *std::get<2>(b);
  });
  std::size_t cursor = 0;
  const std::string* previous = nullptr;
  for (const auto& [begin, end, name] : spans) {
    if (begin < cursor) {
      throw InputError(origin, 0,
                       tensor_ref(*name) + ": data_offsets [" + std::to_string(begin) + ", " +
                           std::to_string(end) + "] overlap " + tensor_ref(*previous) +
                           ", which ends at " + std::to_string(cursor));
    }
    if (begin > cursor) {
      throw InputError(origin, 0,
                       "data section has a gap of " + std::to_string(begin - cursor) +
                           " bytes at offset " + std::to_string(cursor) + " before " +
                           tensor_ref(*name) + " (tensors must be contiguous)");
    }
    cursor = end;
    previous = name;
  }
  if (cursor != data_size) {
    throw InputError(origin, 0,
                     "data section has " + std::to_string(data_size - cursor) +
                         " trailing bytes not covered by any tensor");
  }
}

float f64_to_f32(double d) {
  // Casting an out-of-range double to float is undefined behaviour in C++; do what IEEE
  // round-to-nearest would: values at or beyond FLT_MAX + half an ulp become infinity.
  if (std::isnan(d)) return static_cast<float>(d);  // NaN is representable: well defined
  const double limit =
      static_cast<double>(std::numeric_limits<float>::max()) + std::ldexp(1.0, 103);
  if (std::fabs(d) >= limit)
    return d > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

template <typename T>
T load_le(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

const char* dtype_name(DType d) {
  return row(d).name;
}
std::size_t dtype_size(DType d) {
  return row(d).size;
}

DType dtype_from_name(const std::string& name, const std::string& file) {
  for (const auto& r : kDTypes)
    if (name == r.name) return r.dtype;
  throw InputError(file, 0,
                   "unknown dtype " + quote(name) +
                       " (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
}

bool dtype_is_float(DType d) {
  return d == DType::F64 || d == DType::F32 || d == DType::F16 || d == DType::BF16;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h >> 15) << 31;
  const std::uint32_t exp = (h >> 10) & 0x1f;
  const std::uint32_t mant = h & 0x3ff;
  std::uint32_t bits;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24, exactly representable as a normal float.
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf, or NaN with its payload
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(std::uint16_t b) {
  std::uint32_t bits = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;  // validated on load: cannot overflow
  return n;
}

SafeTensors SafeTensors::load(const std::string& path) {
  return parse(read_file(path), path);
}

SafeTensors SafeTensors::parse(std::string bytes, const std::string& origin) {
  SafeTensors st;
  st.origin_ = origin;
  if (bytes.size() < 8) {
    throw InputError(origin, 0,
                     "file is " + std::to_string(bytes.size()) +
                         " bytes, too short for the 8-byte header size of a safetensors file");
  }
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  if (n > kMaxSafeTensorsHeader) {
    throw InputError(origin, 0,
                     "header size " + std::to_string(n) + " is larger than the " +
                         std::to_string(kMaxSafeTensorsHeader) +
                         "-byte limit (not a safetensors file?)");
  }
  if (n > bytes.size() - 8) {
    throw InputError(origin, 0,
                     "header size " + std::to_string(n) + " goes past the end of the file (" +
                         std::to_string(bytes.size() - 8) + " bytes follow the size field)");
  }
  json header = parse_header(bytes, 8, 8 + n, origin);
  st.data_start_ = 8 + n;
  const std::uint64_t data_size = bytes.size() - st.data_start_;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) {
        throw InputError(origin, 0,
                         std::string("\"__metadata__\" must be an object of strings, found ") +
                             value.type_name());
      }
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) {
          throw InputError(origin, 0,
                           "\"__metadata__\" value of " + quote(mk) + " must be a string, found " +
                               mv.type_name());
        }
        st.metadata_[mk] = mv.get<std::string>();
      }
      continue;
    }
    st.tensors_.emplace(key, read_entry(key, value, data_size, origin));
  }
  check_coverage(st.tensors_, data_size, origin);
  st.bytes_ = std::move(bytes);
  return st;
}

const TensorInfo& SafeTensors::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    throw InputError(origin_, 0,
                     "no tensor named " + quote(name) + " (file has " +
                         std::to_string(tensors_.size()) + " tensors)");
  }
  return it->second;
}

const std::uint8_t* SafeTensors::data(const std::string& name) const {
  const TensorInfo& ti = info(name);
  return reinterpret_cast<const std::uint8_t*>(bytes_.data()) + data_start_ + ti.begin;
}

std::vector<float> SafeTensors::to_f32(const std::string& name) const {
  const TensorInfo& ti = info(name);
  const std::uint8_t* p = data(name);
  const std::size_t n = ti.nbytes() / dtype_size(ti.dtype);
  std::vector<float> out(n);
  switch (ti.dtype) {
    case DType::F32:
      if (n) std::memcpy(out.data(), p, n * 4);
      break;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) out[i] = half_to_float(load_le<std::uint16_t>(p + 2 * i));
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) out[i] = bf16_to_float(load_le<std::uint16_t>(p + 2 * i));
      break;
    case DType::F64:
      for (std::size_t i = 0; i < n; ++i) out[i] = f64_to_f32(load_le<double>(p + 8 * i));
      break;
    default:
      throw InputError(origin_, 0,
                       tensor_ref(name) + " has dtype " + dtype_name(ti.dtype) +
                           "; expected a floating-point tensor (F32, F16, BF16 or F64)");
  }
  return out;
}

std::vector<std::int64_t> SafeTensors::to_i64(const std::string& name) const {
  const TensorInfo& ti = info(name);
  if (dtype_is_float(ti.dtype)) {
    throw InputError(origin_, 0,
                     tensor_ref(name) + " has dtype " + dtype_name(ti.dtype) +
                         "; expected an integer or BOOL tensor");
  }
  const std::uint8_t* p = data(name);
  const std::size_t n = ti.nbytes() / dtype_size(ti.dtype);
  std::vector<std::int64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (ti.dtype) {
      case DType::I64:
        out[i] = load_le<std::int64_t>(p + 8 * i);
        break;
      case DType::I32:
        out[i] = load_le<std::int32_t>(p + 4 * i);
        break;
      case DType::I16:
        out[i] = load_le<std::int16_t>(p + 2 * i);
        break;
      case DType::I8:
        out[i] = static_cast<std::int8_t>(p[i]);
        break;
      case DType::U8:
        out[i] = p[i];
        break;
      default:
        out[i] = p[i] != 0;
        break;  // BOOL: one byte, any non-zero is true
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writer

void SafeTensorsWriter::add(const std::string& name, DType dtype, std::vector<std::int64_t> shape,
                            const void* data, std::size_t nbytes) {
  if (name == "__metadata__")
    throw UsageError("safetensors: \"__metadata__\" is not a tensor name");
  if (entries_.count(name)) throw UsageError("safetensors: tensor " + quote(name) + " added twice");
  std::uint64_t numel = 1;
  for (auto d : shape) {
    if (d < 0) {
      throw UsageError("safetensors: tensor " + quote(name) + " has a negative dimension");
    }
    if (!mul_u64(numel, static_cast<std::uint64_t>(d), &numel)) {
      throw UsageError("safetensors: tensor " + quote(name) + " shape overflows");
    }
  }
  std::uint64_t expected = 0;
  if (!mul_u64(numel, dtype_size(dtype), &expected) || expected != nbytes) {
    throw UsageError("safetensors: tensor " + quote(name) + " has " + std::to_string(nbytes) +
                     " bytes but its shape needs " + std::to_string(numel) + " elements of " +
                     dtype_name(dtype));
  }
  Entry e{dtype, std::move(shape), std::string()};
  if (nbytes) e.bytes.assign(static_cast<const char*>(data), nbytes);
  entries_.emplace(name, std::move(e));
}

void SafeTensorsWriter::add_f32(const std::string& name, std::vector<std::int64_t> shape,
                                const float* values) {
  std::int64_t n = 1;
  for (auto d : shape) n *= std::max<std::int64_t>(d, 0);
  add(name, DType::F32, std::move(shape), values, static_cast<std::size_t>(n) * sizeof(float));
}

void SafeTensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

std::vector<const std::pair<const std::string, SafeTensorsWriter::Entry>*>
SafeTensorsWriter::layout() const {
  std::vector<const std::pair<const std::string, Entry>*> order;
  order.reserve(entries_.size());
  for (const auto& kv : entries_) order.push_back(&kv);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return dtype_size(a->second.dtype) > dtype_size(b->second.dtype);
  });
  return order;
}

std::string SafeTensorsWriter::header() const {
  std::map<const std::string*, std::pair<std::size_t, std::size_t>> offsets;
  std::size_t cursor = 0;
  for (const auto* kv : layout()) {
    offsets[&kv->first] = {cursor, cursor + kv->second.bytes.size()};
    cursor += kv->second.bytes.size();
  }
  // Assembled piece by piece: nlohmann's ordered_json looks keys up linearly, which made large
  // headers quadratic. Each piece is still dumped by nlohmann, so escaping stays correct.
  std::string text = "{";
  try {
    if (!metadata_.empty()) {
      text += "\"__metadata__\":" + json(metadata_).dump();  // std::map: keys sorted
    }
    for (const auto& [name, e] : entries_) {  // std::map: sorted by name
      const auto& o = offsets.at(&name);
      if (text.size() > 1) text += ',';
      text += json(name).dump();
      text += ":{\"dtype\":\"";
      text += dtype_name(e.dtype);
      text += "\",\"shape\":" + json(e.shape).dump();
      text +=
          ",\"data_offsets\":[" + std::to_string(o.first) + "," + std::to_string(o.second) + "]}";
    }
  } catch (const json::exception&) {
    throw UsageError("safetensors: a tensor name or metadata string is not valid UTF-8");
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

static std::string size_field(std::uint64_t n) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out;
}

std::string SafeTensorsWriter::serialize() const {
  std::string h = header();
  std::string out = size_field(h.size()) + h;
  for (const auto* kv : layout()) out += kv->second.bytes;
  return out;
}

void SafeTensorsWriter::write(const std::string& path) const {
  // Streams the tensors instead of building one big string: checkpoints can be hundreds of MB.
  std::string h = header();
  AtomicOutput out(path);
  out.stream() << size_field(h.size()) << h;
  for (const auto* kv : layout()) {
    const std::string& b = kv->second.bytes;
    out.stream().write(b.data(), static_cast<std::streamsize>(b.size()));
  }
  out.commit();
}

}  // namespace loid
