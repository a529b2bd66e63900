// Parsing of --device values (see device.h).
#include "core/device.h"

#include <cctype>

#include "core/error.h"

namespace loid {

DeviceSpec parse_device(const std::string& text, const std::string& flag) {
  DeviceSpec spec;
  if (text == "cpu") return spec;
  if (text == "auto") {
    spec.kind = DeviceSpec::Kind::kAuto;
    return spec;
  }
  const std::string cuda = "cuda";
  if (text.compare(0, cuda.size(), cuda) == 0) {
    spec.kind = DeviceSpec::Kind::kCuda;
    if (text.size() == cuda.size()) return spec;
    const std::string digits = text.substr(cuda.size() + 1);
    bool ok = text[cuda.size()] == ':' && !digits.empty() && digits.size() <= 4;
    for (char c : digits) ok = ok && std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (ok) {
      spec.index = std::stoi(digits);
      return spec;
    }
  }
  throw UsageError(flag + " '" + text + "': expected cpu, cuda, cuda:N (N = 0, 1, ...) or auto");
}

std::string to_string(const DeviceSpec& spec) {
  switch (spec.kind) {
    case DeviceSpec::Kind::kCpu:
      return "cpu";
    case DeviceSpec::Kind::kAuto:
      return "auto";
    case DeviceSpec::Kind::kCuda:
      break;
  }
  return "cuda:" + std::to_string(spec.index);
}

bool operator==(const DeviceSpec& a, const DeviceSpec& b) {
  return a.kind == b.kind && (a.kind != DeviceSpec::Kind::kCuda || a.index == b.index);
}

}  // namespace loid
