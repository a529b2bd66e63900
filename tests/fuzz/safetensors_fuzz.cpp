// libFuzzer harness for the safetensors reader: any input must either parse or throw loid::Error,
// and a file that parses must survive a write/read round trip unchanged (see tests/fuzz/README.md).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "io/safetensors.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "safetensors_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Writes the parsed tensors back and parses the result: every field and byte must match.
void check_round_trip(const loid::SafeTensors& st) {
  loid::SafeTensorsWriter w;
  for (const auto& [name, ti] : st.tensors())
    w.add(name, ti.dtype, ti.shape, st.data(name), ti.nbytes());
  for (const auto& [k, v] : st.metadata()) w.set_metadata(k, v);
  loid::SafeTensors again = loid::SafeTensors::parse(w.serialize(), "round-trip");
  if (again.metadata() != st.metadata()) fail("metadata changed in round trip", "");
  if (again.tensors().size() != st.tensors().size()) fail("tensor count changed", "");
  for (const auto& [name, ti] : st.tensors()) {
    const loid::TensorInfo& tj = again.info(name);
    if (tj.dtype != ti.dtype || tj.shape != ti.shape || tj.nbytes() != ti.nbytes())
      fail("tensor header changed in round trip", name);
    if (ti.nbytes() && std::memcmp(st.data(name), again.data(name), ti.nbytes()) != 0)
      fail("tensor bytes changed in round trip", name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  loid::SafeTensors st;
  try {
    st = loid::SafeTensors::parse(std::move(bytes), "fuzz-input");
  } catch (const loid::Error&) {
    return 0;  // rejected with a message: the expected outcome for most inputs
  }
  // Accepted: every accessor must work without throwing, on every tensor.
  try {
    for (const auto& [name, ti] : st.tensors()) {
      std::size_t n =
          loid::dtype_is_float(ti.dtype) ? st.to_f32(name).size() : st.to_i64(name).size();
      if (static_cast<std::int64_t>(n) != ti.numel()) fail("element count mismatch", name);
    }
    check_round_trip(st);
  } catch (const loid::Error& e) {
    fail("accepted file failed later", e.what());
  }
  return 0;
}
