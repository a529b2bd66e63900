// Reader for TensorFlow.js graph models: model.json (graph nodes and weightsManifest) plus the
// binary weight shards, turned into named float/int arrays. Torch-free; converters build on it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace loid {

// One graph node of modelTopology.node.
struct TfjsNode {
  std::string name;
  std::string op;                   // TF op type ("MatMul", "Const", ...)
  std::vector<std::string> inputs;  // producer names, "name:k" for the k-th output
  nlohmann::json attr;              // the node's attributes as written in model.json
};

// One weight of the manifest with its values, dequantized when the manifest says so.
struct TfjsWeight {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string dtype;               // "float32", "int32" or "bool" (the dtype after dequantization)
  std::string quantization;        // "" or the stored dtype: "uint8", "uint16", "float16"
  std::vector<float> floats;       // values when dtype is float32
  std::vector<std::int32_t> ints;  // values when dtype is int32 or bool
  std::int64_t numel() const;
};

// A parsed TF.js graph model. All validation happens in load(); errors name the file (model.json
// or the shard) and the weight.
class TfjsModel {
 public:
  // model_json: path of model.json; shards are read from the same directory, groups in order and
  // each group's paths in order, as the TF.js loader does.
  static TfjsModel load(const std::string& model_json);

  const std::vector<TfjsNode>& nodes() const { return nodes_; }
  const std::vector<TfjsWeight>& weights() const { return weights_; }  // manifest order
  bool has_weight(const std::string& name) const { return index_.count(name) != 0; }
  const TfjsWeight& weight(const std::string& name) const;   // throws InputError naming it
  const TfjsNode* find_node(const std::string& name) const;  // nullptr when absent
  std::int64_t count_ops(const std::string& op) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<TfjsNode> nodes_;
  std::vector<TfjsWeight> weights_;
  std::map<std::string, std::size_t> index_;
};

}  // namespace loid
