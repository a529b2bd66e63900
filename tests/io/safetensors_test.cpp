// Tests of the safetensors reader/writer: a fixture from an independent Python writer, round trips
// of every dtype, and one hand-corrupted file per validation rule.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "support/test_paths.h"

namespace loid {
namespace {

// 8-byte little-endian size + header + data, exactly as the format lays it out.
std::string blob(const std::string& header, const std::string& data = "",
                 std::uint64_t size_field = ~0ull) {
  std::uint64_t n = size_field == ~0ull ? header.size() : size_field;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

// Parsing must fail with an InputError naming the file and containing `problem`.
void expect_error(const std::string& bytes, const std::string& problem) {
  try {
    SafeTensors::parse(bytes, "corrupt.safetensors");
    ADD_FAILURE() << "parsed without error; expected: " << problem;
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "corrupt.safetensors");
    EXPECT_NE(std::string(e.what()).find("corrupt.safetensors"), std::string::npos) << e.what();
    EXPECT_NE(e.problem().find(problem), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << problem;
  }
}

const std::string k8(8, 'x');  // 8 data bytes

TEST(SafeTensorsValidation, FileShorterThanSizeField) {
  expect_error("abc", "3 bytes, too short");
  expect_error("", "0 bytes, too short");
}

TEST(SafeTensorsValidation, HeaderSizeBeyondFile) {
  expect_error(blob("{}", "", 100), "header size 100 goes past the end of the file (2 bytes");
}

TEST(SafeTensorsValidation, HeaderSizeAbsurd) {
  expect_error(blob("{}", "", 1ull << 60), "larger than the 100000000-byte limit");
  expect_error(blob("{}", "", ~0ull - 1), "larger than the");
}

TEST(SafeTensorsValidation, HeaderNotJson) {
  expect_error(blob("{\"a\": "), "header is not valid JSON");
  expect_error(blob("{} junk"), "header is not valid JSON");
  // nlohmann would stop at a NUL and ignore the rest; the reader must not.
  expect_error(blob(std::string("{}\0\0", 4)), "NUL byte at header offset 2");
  expect_error(blob(std::string("{\"a\":1}\0{\"b\": 2}", 17)), "NUL byte at header offset 7");
  expect_error(blob("{\"\xff\": 1}"), "header is not valid JSON");  // invalid UTF-8
}

TEST(SafeTensorsValidation, HeaderNotObject) {
  expect_error(blob("[1, 2]"), "header must be a JSON object, found array");
  expect_error(blob("42      "), "header must be a JSON object, found number");
}

TEST(SafeTensorsValidation, EntryNotObject) {
  expect_error(blob(R"({"w": 5})"), "tensor 'w': entry must be an object");
}

TEST(SafeTensorsValidation, EntryMissingFields) {
  expect_error(blob(R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", k8),
               "tensor 'w': entry is missing \"dtype\"");
  expect_error(blob(R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", k8),
               "tensor 'w': entry is missing \"shape\"");
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [2]}})", k8),
               "tensor 'w': entry is missing \"data_offsets\"");
}

TEST(SafeTensorsValidation, EntryWrongTypes) {
  expect_error(blob(R"({"w": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})", k8),
               "tensor 'w': \"dtype\" must be a string, found number");
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}})", k8),
               "tensor 'w': \"shape\" must be an array of integers, found string");
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", k8),
               "\"shape\" must contain only integers, found a non-integer number");
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [null], "data_offsets": [0, 8]}})", k8),
               "\"shape\" must contain only integers, found null");
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": {}}})", k8),
               "\"data_offsets\" must be an array of integers, found object");
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})", k8),
               "\"data_offsets\" must be [begin, end], found 1 values");
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 8]}})", k8),
               "\"data_offsets\" must be [begin, end], found 3 values");
}

TEST(SafeTensorsValidation, UnknownDType) {
  expect_error(blob(R"({"w": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}})", k8),
               "tensor 'w': unknown dtype 'F8_E4M3' (supported: F64, F32");
  expect_error(blob(R"({"w": {"dtype": "f32", "shape": [2], "data_offsets": [0, 8]}})", k8),
               "unknown dtype 'f32'");
}

TEST(SafeTensorsValidation, NegativeDimension) {
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", k8),
               "tensor 'w': \"shape\" has a negative value -2");
}

TEST(SafeTensorsValidation, NegativeOffset) {
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})", k8),
               "\"data_offsets\" has a negative value -8");
}

TEST(SafeTensorsValidation, ByteLengthMismatch) {
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", k8),
               "tensor 'w': byte length 8 does not match 3 elements of F32");
  expect_error(blob(R"({"w": {"dtype": "F16", "shape": [], "data_offsets": [0, 8]}})", k8),
               "byte length 8 does not match 1 elements of F16");
}

TEST(SafeTensorsValidation, ShapeProductOverflow) {
  // 2^32 * 2^32 wraps to 0 in 64 bits: must not be taken for an empty tensor.
  expect_error(blob(R"({"w": {"dtype": "U8", "shape": [4294967296, 4294967296],
                          "data_offsets": [0, 0]}})"),
               "tensor 'w': shape is too large");
  // The product fits, the byte count (x 8) does not.
  expect_error(blob(R"({"w": {"dtype": "F64", "shape": [4611686018427387904],
                          "data_offsets": [0, 0]}})"),
               "byte length 0 does not match");
  // 2^62 * 2 fits in uint64 but not int64, where numel() and torch compute.
  expect_error(blob(R"({"w": {"dtype": "U8", "shape": [4611686018427387904, 2, 0],
                          "data_offsets": [0, 0]}})"),
               "shape is too large");
  expect_error(blob(R"({"w": {"dtype": "U8", "shape": [0, 18446744073709551615],
                          "data_offsets": [0, 0]}})"),
               "shape is too large");
}

TEST(SafeTensorsValidation, OffsetsOutsideData) {
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", k8),
               "tensor 'w': data_offsets [0, 16] go past the end of the data section (8 bytes)");
  expect_error(blob(R"({"w": {"dtype": "U8", "shape": [0],
                          "data_offsets": [18446744073709551615, 18446744073709551615]}})"),
               "go past the end of the data section");
}

TEST(SafeTensorsValidation, BeginAfterEnd) {
  expect_error(blob(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", k8),
               "tensor 'w': data_offsets [8, 0] have begin > end");
}

TEST(SafeTensorsValidation, OverlappingTensors) {
  expect_error(blob(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                    k8),
               "tensor 'b': data_offsets [4, 8] overlap tensor 'a', which ends at 8");
  // Two tensors aliasing the same bytes.
  expect_error(blob(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "b": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]}})",
                    k8),
               "overlap tensor 'a'");
  // An empty tensor inside another tensor's bytes.
  expect_error(blob(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "e": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}})",
                    k8),
               "tensor 'e': data_offsets [4, 4] overlap tensor 'a'");
}

TEST(SafeTensorsValidation, GapBetweenTensors) {
  expect_error(blob(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                        "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})",
                    std::string(12, 'x')),
               "gap of 4 bytes at offset 4 before tensor 'b'");
  expect_error(blob(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", k8),
               "gap of 4 bytes at offset 0 before tensor 'a'");
}

TEST(SafeTensorsValidation, TrailingBytes) {
  expect_error(blob(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", k8),
               "data section has 4 trailing bytes");
  expect_error(blob("{}", "zz"), "data section has 2 trailing bytes");
}

TEST(SafeTensorsValidation, MetadataMustBeStringMap) {
  expect_error(blob(R"({"__metadata__": ["a"]})"),
               "\"__metadata__\" must be an object of strings, found array");
  expect_error(blob(R"({"__metadata__": {"epoch": 3}})"),
               "\"__metadata__\" value of 'epoch' must be a string, found number");
}

TEST(SafeTensorsValidation, DuplicateKeys) {
  expect_error(blob(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                        "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                    k8),
               "duplicate key 'a' (tensor names must be unique)");
  expect_error(blob(R"({"a": {"dtype": "F32", "dtype": "I32", "shape": [1],
                          "data_offsets": [0, 4]}})",
                    "xxxx"),
               "duplicate key 'dtype' inside a header entry");
}

TEST(SafeTensorsValidation, HostileNamesAreQuotedShort) {
  std::string name(500, 'n');
  name[3] = '\x01';
  std::string header = "{\"" + name.substr(0, 3) + "\\u0001" + name.substr(4) +
                       "\": {\"dtype\": \"X\", \"shape\": [], \"data_offsets\": [0, 0]}}";
  expect_error(blob(header), "tensor 'nnn\\x01nnnn");
  try {
    SafeTensors::parse(blob(header), "f");
  } catch (const InputError& e) {
    EXPECT_LT(std::strlen(e.what()), 250u) << e.what();
  }
}

TEST(SafeTensorsValidation, DeepNestingRejectedEarly) {
  // Valid JSON, but no safetensors header nests like this; reject before building a DOM.
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  expect_error(blob(deep), "header nests deeper than 64 levels");
}

TEST(SafeTensorsReader, ManyTensorsRoundTrip) {
  // 20k tensors: guards against the quadratic paths of nlohmann's callback parser and
  // ordered_json (seconds to minutes at this size before they were avoided).
  SafeTensorsWriter w;
  for (int i = 0; i < 20000; ++i) {
    std::uint8_t b = static_cast<std::uint8_t>(i);
    w.add("t" + std::to_string(i), DType::U8, {1}, &b, 1);
  }
  auto st = SafeTensors::parse(w.serialize(), "many");
  ASSERT_EQ(st.tensors().size(), 20000u);
  EXPECT_EQ(st.to_i64("t19999"), std::vector<std::int64_t>{19999 % 256});
}

TEST(SafeTensorsValidation, MissingFileNamesPath) {
  try {
    SafeTensors::load("/nonexistent/dir/model.safetensors");
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "/nonexistent/dir/model.safetensors");
  }
}

TEST(SafeTensorsReader, AcceptsEdgeCases) {
  // Empty header, empty tensors at boundaries, unknown entry fields (ignored like the reference),
  // a scalar, padding spaces, metadata.
  auto st = SafeTensors::parse(blob("{}"), "empty");
  EXPECT_TRUE(st.tensors().empty());
  st = SafeTensors::parse(blob(R"({"__metadata__": {"k": "v"},
               "z0": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]},
               "s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4], "extra": [1]},
               "z1": {"dtype": "I64", "shape": [3, 0], "data_offsets": [4, 4]}}       )",
                               std::string("\x00\x00\x80\x3f", 4)),
                          "edge");
  EXPECT_EQ(st.tensors().size(), 3u);
  EXPECT_EQ(st.metadata().at("k"), "v");
  EXPECT_EQ(st.to_f32("s"), std::vector<float>{1.0f});
  EXPECT_TRUE(st.to_f32("z0").empty());
  EXPECT_TRUE(st.to_i64("z1").empty());
  EXPECT_EQ(st.info("z1").numel(), 0);
  EXPECT_EQ(st.info("s").numel(), 1);
}

TEST(SafeTensorsReader, WrongAccessorsNameTheTensor) {
  SafeTensorsWriter w;
  std::int32_t v = 3;
  w.add("ids", DType::I32, {1}, &v, 4);
  auto st = SafeTensors::parse(w.serialize(), "m.safetensors");
  EXPECT_THROW(
      {
        try {
          st.to_f32("ids");
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("m.safetensors: tensor 'ids' has dtype I32"),
                    std::string::npos)
              << e.what();
          throw;
        }
      },
      InputError);
  EXPECT_THROW(st.info("nope"), InputError);
  EXPECT_THROW(st.data("nope"), InputError);
  EXPECT_EQ(st.to_i64("ids"), std::vector<std::int64_t>{3});
}

// ---------------------------------------------------------------------------------------------
// Fixture written by tests/golden/safetensors/make_fixture.py (numpy + hand-written format).

float expected_value(const nlohmann::json& v) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<float>::quiet_NaN();
    return s == "inf" ? std::numeric_limits<float>::infinity()
                      : -std::numeric_limits<float>::infinity();
  }
  return static_cast<float>(v.get<double>());  // the values are exact float32 values
}

TEST(SafeTensorsFixture, ReadsIndependentWriterOutput) {
  auto st = SafeTensors::load(testing::golden("safetensors/fixture.safetensors"));
  auto expected = nlohmann::json::parse(read_file(testing::golden("safetensors/expected.json")));
  std::map<std::string, std::string> meta = expected["metadata"];
  EXPECT_EQ(st.metadata(), meta);
  ASSERT_EQ(st.tensors().size(), expected["tensors"].size());
  for (const auto& [name, e] : expected["tensors"].items()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(st.contains(name));
    const TensorInfo& ti = st.info(name);
    EXPECT_EQ(dtype_name(ti.dtype), e["dtype"].get<std::string>());
    EXPECT_EQ(ti.shape, e["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(ti.begin, e["data_offsets"][0].get<std::size_t>());
    EXPECT_EQ(ti.end, e["data_offsets"][1].get<std::size_t>());
    const auto& values = e["values"];
    if (dtype_is_float(ti.dtype)) {
      std::vector<float> got = st.to_f32(name);
      ASSERT_EQ(got.size(), values.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        float want = expected_value(values[i]);
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(got[i])) << "index " << i;
        } else {
          EXPECT_EQ(got[i], want) << "index " << i;  // exact: conversions are exact
          EXPECT_EQ(std::signbit(got[i]), std::signbit(want)) << "index " << i;
        }
      }
    } else {
      EXPECT_EQ(st.to_i64(name), values.get<std::vector<std::int64_t>>());
    }
  }
}

TEST(SafeTensorsFixture, WriterReproducesIndependentFileByteForByte) {
  std::string path = testing::golden("safetensors/fixture.safetensors");
  auto st = SafeTensors::load(path);
  SafeTensorsWriter w;
  for (const auto& [name, ti] : st.tensors())
    w.add(name, ti.dtype, ti.shape, st.data(name), ti.nbytes());
  for (const auto& [k, v] : st.metadata()) w.set_metadata(k, v);
  EXPECT_EQ(w.serialize(), read_file(path));
}

// ---------------------------------------------------------------------------------------------
// Writer

TEST(SafeTensorsWriter, RoundTripsEveryDType) {
  const DType all[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                       DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
  SafeTensorsWriter w;
  std::map<std::string, std::string> raw;
  int k = 0;
  for (DType d : all) {
    // Odd element counts so that a naive layout would misalign the wider types after them.
    std::string bytes(3 * dtype_size(d), '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(17 * i + 31 * k);
    if (d == DType::BOOL) bytes = std::string("\x01\x00\x01", 3);
    std::string name = std::string("t.") + dtype_name(d);
    w.add(name, d, {3}, bytes.data(), bytes.size());
    raw[name] = bytes;
    ++k;
  }
  w.add("scalar", DType::F32, {}, std::string("\x00\x00\x80\x3f", 4).data(), 4);
  w.add("empty", DType::I64, {2, 0}, nullptr, 0);
  w.set_metadata("format", "pt");

  std::string dir = testing::temp_dir("safetensors_roundtrip");
  std::string path = dir + "/m.safetensors";
  w.write(path);
  EXPECT_EQ(read_file(path), w.serialize());
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename(), "m.safetensors");  // no temporary left behind

  auto st = SafeTensors::load(path);
  EXPECT_EQ(st.metadata().at("format"), "pt");
  EXPECT_EQ(st.tensors().size(), raw.size() + 2);
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, read_file(path).data(), 8);
  EXPECT_EQ(header_size % 8, 0u);
  for (const auto& [name, bytes] : raw) {
    SCOPED_TRACE(name);
    const TensorInfo& ti = st.info(name);
    EXPECT_EQ(ti.shape, std::vector<std::int64_t>{3});
    EXPECT_EQ(std::string(dtype_name(ti.dtype)), name.substr(2));
    EXPECT_EQ(ti.begin % dtype_size(ti.dtype), 0u) << "tensor not aligned to its element size";
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(st.data(name)), ti.nbytes()), bytes);
  }
  EXPECT_EQ(st.to_f32("scalar"), std::vector<float>{1.0f});
  EXPECT_TRUE(st.info("scalar").shape.empty());
  EXPECT_EQ(st.info("empty").shape, (std::vector<std::int64_t>{2, 0}));
  EXPECT_EQ(st.to_i64("t.BOOL"), (std::vector<std::int64_t>{1, 0, 1}));
}

TEST(SafeTensorsWriter, AddF32AndEmptyWriter) {
  SafeTensorsWriter w;
  EXPECT_EQ(SafeTensors::parse(w.serialize(), "empty").tensors().size(), 0u);
  const float v[] = {1.5f, -2.0f, 0.25f, 8.0f};
  w.add_f32("w", {2, 2}, v);
  auto st = SafeTensors::parse(w.serialize(), "mem");
  EXPECT_EQ(st.to_f32("w"), std::vector<float>(v, v + 4));
}

TEST(SafeTensorsWriter, RejectsBadInput) {
  SafeTensorsWriter w;
  float v[2] = {0, 0};
  w.add_f32("a", {2}, v);
  EXPECT_THROW(w.add_f32("a", {2}, v), UsageError);                               // duplicate
  EXPECT_THROW(w.add_f32("__metadata__", {2}, v), UsageError);                    // reserved
  EXPECT_THROW(w.add("b", DType::F32, {3}, v, 8), UsageError);                    // bytes != shape
  EXPECT_THROW(w.add("c", DType::F32, {-1}, v, 0), UsageError);                   // negative dim
  EXPECT_THROW(w.add("d", DType::U8, {1ll << 40, 1ll << 40}, v, 0), UsageError);  // overflow
  SafeTensorsWriter bad;
  bad.add("\xff", DType::U8, {0}, nullptr, 0);
  EXPECT_THROW(bad.serialize(), UsageError);  // not UTF-8: cannot be a JSON key
}

TEST(SafeTensorsHalf, ConvertsAllClassesExactly) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(half_to_float(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(half_to_float(0x0200), std::ldexp(1.0f, -15));  // mid subnormal
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(half_to_float(0xfc00)) && half_to_float(0xfc00) < 0);
  EXPECT_TRUE(std::isnan(half_to_float(0x7c01)));
  // Every positive finite half maps to a strictly larger float than the previous one.
  float prev = -1;
  for (std::uint32_t h = 0; h < 0x7c00; ++h) {
    float f = half_to_float(static_cast<std::uint16_t>(h));
    ASSERT_GT(f, prev) << std::hex << h;
    ASSERT_EQ(half_to_float(static_cast<std::uint16_t>(h | 0x8000)), -f);
    prev = f;
  }
  EXPECT_EQ(bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xc040), -3.0f);
}

}  // namespace
}  // namespace loid
