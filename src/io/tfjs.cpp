// TF.js graph model reader: parses model.json and slices the concatenated shard bytes into weights.
#include "io/tfjs.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fs.h"

namespace loid {
namespace {

using nlohmann::json;

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// 1-based line of a byte offset, so JSON errors point at the line an editor shows.
std::int64_t line_of(const std::string& text, std::size_t byte) {
  std::int64_t line = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);  // subnormal
  } else if (exp == 31) {
    v = mant ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400u), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

std::size_t stored_size(const std::string& stored, const std::string& file,
                        const std::string& name) {
  if (stored == "float32" || stored == "int32") return 4;
  if (stored == "uint16" || stored == "float16") return 2;
  if (stored == "uint8" || stored == "bool") return 1;
  throw InputError(file, 0, "weight '" + name + "' has unsupported dtype '" + stored + "'");
}

template <typename T>
T read_le(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // the build targets little-endian machines, as TF.js does
  return v;
}

// Fills w's values from `count` stored elements at p.
void decode(TfjsWeight& w, const json& quant, const std::uint8_t* p, std::int64_t count,
            const std::string& file) {
  const std::string stored = w.quantization.empty() ? w.dtype : w.quantization;
  if (w.dtype == "float32")
    w.floats.resize(count);
  else
    w.ints.resize(count);
  if (stored == "float32") {
    for (std::int64_t i = 0; i < count; ++i) w.floats[i] = read_le<float>(p + 4 * i);
  } else if (stored == "int32") {
    for (std::int64_t i = 0; i < count; ++i) w.ints[i] = read_le<std::int32_t>(p + 4 * i);
  } else if (stored == "bool") {
    for (std::int64_t i = 0; i < count; ++i) w.ints[i] = p[i] != 0;
  } else if (stored == "float16") {
    if (w.dtype != "float32")
      throw InputError(file, 0, "weight '" + w.name + "': float16 storage of a non-float weight");
    for (std::int64_t i = 0; i < count; ++i)
      w.floats[i] = half_to_float(read_le<std::uint16_t>(p + 2 * i));
  } else {  // uint8 / uint16 affine quantization: value = q * scale + min
    const double scale = quant["scale"].get<double>(), mn = quant["min"].get<double>();
    for (std::int64_t i = 0; i < count; ++i) {
      const double q = stored == "uint8" ? p[i] : read_le<std::uint16_t>(p + 2 * i);
      const double v = q * scale + mn;
      if (w.dtype == "float32")
        w.floats[i] = static_cast<float>(v);
      else
        w.ints[i] = static_cast<std::int32_t>(std::lround(v));
    }
  }
}

TfjsNode parse_node(const json& n, const std::string& file, std::size_t k) {
  const std::string where = "modelTopology.node[" + std::to_string(k) + "]";
  if (!n.is_object() || !n.contains("name") || !n["name"].is_string() || !n.contains("op") ||
      !n["op"].is_string()) {
    throw InputError(file, 0, where + " needs string fields 'name' and 'op'");
  }
  TfjsNode node;
  node.name = n["name"].get<std::string>();
  node.op = n["op"].get<std::string>();
  if (n.contains("input")) {
    if (!n["input"].is_array())
      throw InputError(file, 0, "node '" + node.name + "': 'input' is not a list");
    for (const auto& in : n["input"]) {
      if (!in.is_string())
        throw InputError(file, 0, "node '" + node.name + "': an input is not a string");
      node.inputs.push_back(in.get<std::string>());
    }
  }
  node.attr = n.contains("attr") ? n["attr"] : json::object();
  return node;
}

}  // namespace

std::int64_t TfjsWeight::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

TfjsModel TfjsModel::load(const std::string& model_json) {
  TfjsModel m;
  m.path_ = model_json;
  const std::string text = read_file(model_json);
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InputError(model_json, line_of(text, e.byte), std::string("invalid JSON: ") + e.what());
  }
  if (!root.is_object() || !root.contains("modelTopology") || !root["modelTopology"].is_object()) {
    throw InputError(model_json, 0, "not a TF.js graph model: no 'modelTopology' object");
  }
  const json& topo = root["modelTopology"];
  if (!topo.contains("node") || !topo["node"].is_array()) {
    throw InputError(model_json, 0, "not a TF.js graph model: 'modelTopology' has no 'node' list");
  }
  for (std::size_t k = 0; k < topo["node"].size(); ++k)
    m.nodes_.push_back(parse_node(topo["node"][k], model_json, k));

  if (!root.contains("weightsManifest") || !root["weightsManifest"].is_array()) {
    throw InputError(model_json, 0, "no 'weightsManifest' list");
  }
  const std::string dir = dir_of(model_json);
  std::size_t group_no = 0;
  for (const json& group : root["weightsManifest"]) {
    const std::string where = "weightsManifest[" + std::to_string(group_no++) + "]";
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
        !group.contains("weights") || !group["weights"].is_array()) {
      throw InputError(model_json, 0, where + " needs 'paths' and 'weights' lists");
    }
    // The group's bytes are its shards concatenated; remember where each shard starts for errors.
    std::string bytes;
    std::vector<std::pair<std::size_t, std::string>> shard_starts;
    for (const json& p : group["paths"]) {
      if (!p.is_string()) throw InputError(model_json, 0, where + ": a shard path is not a string");
      const std::string shard = dir + "/" + p.get<std::string>();
      shard_starts.emplace_back(bytes.size(), shard);
      bytes += read_file(shard);
    }
    auto shard_at = [&](std::size_t offset) {
      std::string s = shard_starts.empty() ? model_json : shard_starts.front().second;
      for (const auto& [start, name] : shard_starts) {
        if (start <= offset) s = name;
      }
      return s;
    };
    std::size_t offset = 0;
    for (const json& wj : group["weights"]) {
      if (!wj.is_object() || !wj.contains("name") || !wj["name"].is_string() ||
          !wj.contains("shape") || !wj["shape"].is_array() || !wj.contains("dtype") ||
          !wj["dtype"].is_string()) {
        throw InputError(model_json, 0,
                         where + ": a weight entry needs 'name', 'shape' and 'dtype'");
      }
      TfjsWeight w;
      w.name = wj["name"].get<std::string>();
      w.dtype = wj["dtype"].get<std::string>();
      for (const json& d : wj["shape"]) {
        if (!d.is_number_integer() || d.get<std::int64_t>() < 0) {
          throw InputError(model_json, 0,
                           "weight '" + w.name + "' has an invalid shape entry " + d.dump());
        }
        w.shape.push_back(d.get<std::int64_t>());
      }
      if (w.dtype != "float32" && w.dtype != "int32" && w.dtype != "bool") {
        throw InputError(model_json, 0,
                         "weight '" + w.name + "' has unsupported dtype '" + w.dtype + "'");
      }
      json quant = wj.contains("quantization") ? wj["quantization"] : json();
      if (quant.is_object()) {
        if (!quant.contains("dtype") || !quant["dtype"].is_string()) {
          throw InputError(model_json, 0, "weight '" + w.name + "': quantization without a dtype");
        }
        w.quantization = quant["dtype"].get<std::string>();
        if (w.quantization != "uint8" && w.quantization != "uint16" &&
            w.quantization != "float16") {
          throw InputError(
              model_json, 0,
              "weight '" + w.name + "' has unsupported quantization '" + w.quantization + "'");
        }
        if (w.quantization != "float16" &&
            !(quant.contains("scale") && quant["scale"].is_number() && quant.contains("min") &&
              quant["min"].is_number())) {
          throw InputError(model_json, 0,
                           "weight '" + w.name + "': " + w.quantization +
                               " quantization needs numeric scale and min");
        }
      }
      if (m.index_.count(w.name))
        throw InputError(model_json, 0, "weight '" + w.name + "' appears twice");
      const std::int64_t count = w.numel();
      const std::size_t need =
          static_cast<std::size_t>(count) *
          stored_size(w.quantization.empty() ? w.dtype : w.quantization, model_json, w.name);
      if (offset + need > bytes.size()) {
        throw InputError(shard_at(bytes.empty() ? 0 : bytes.size() - 1), 0,
                         "weight data too short: weight '" + w.name + "' needs bytes " +
                             std::to_string(offset) + ".." + std::to_string(offset + need) +
                             " of " + where + " but its shards hold only " +
                             std::to_string(bytes.size()) + " bytes (truncated or missing shard?)");
      }
      decode(w, quant, reinterpret_cast<const std::uint8_t*>(bytes.data()) + offset, count,
             shard_at(offset));
      offset += need;
      m.index_[w.name] = m.weights_.size();
      m.weights_.push_back(std::move(w));
    }
    if (offset != bytes.size()) {
      throw InputError(shard_at(bytes.size() - 1), 0,
                       where + ": shards hold " + std::to_string(bytes.size()) +
                           " bytes but the manifest's weights use " + std::to_string(offset) +
                           " (extra data: wrong shard or manifest?)");
    }
  }
  return m;
}

const TfjsWeight& TfjsModel::weight(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end())
    throw InputError(path_, 0, "weight '" + name + "' is not in the weightsManifest");
  return weights_[it->second];
}

const TfjsNode* TfjsModel::find_node(const std::string& name) const {
  for (const auto& n : nodes_) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

std::int64_t TfjsModel::count_ops(const std::string& op) const {
  std::int64_t c = 0;
  for (const auto& n : nodes_) c += n.op == op;
  return c;
}

}  // namespace loid
