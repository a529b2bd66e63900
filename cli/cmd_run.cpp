// `loid eval`, `loid predict` and `loid recommend`: inference on a finished `loid train` run.
// Output is JSON on stdout (one object), so scripts can consume it.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/error.h"
#include "serve/service.h"
#include "train/run.h"

namespace loid::cli {

using json = nlohmann::json;

void add_eval(CLI::App& app) {
  auto run = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Score a trained run: its test split again (equal to metrics.json), or every review "
      "of another file (--data)");
  cmd->add_option("--run", *run, "Run directory written by `loid train`")->required();
  cmd->add_option("--data", *data,
                  "Reviews file to score; users and items are matched by id, unknown ones take "
                  "the model's cold-start path");
  cmd->callback([run, data] {
    const loid::LoadedRun r(*run);
    json out = data->empty() ? json{{"test", r.evaluate_test()}} : r.evaluate_file(*data);
    out["run"] = *run;
    if (r.leaky()) out["warning"] = "LEAKY: the run used the paper-leaky protocol";
    std::cout << out.dump(2) << "\n";
  });
}

void add_predict(CLI::App& app) {
  auto run = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>();
  auto items = std::make_shared<std::vector<std::string>>();
  auto texts = std::make_shared<std::vector<std::string>>();
  auto explain = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "predict", "Predict a user's rating of items with a trained run (JSON out)");
  cmd->add_option("--run", *run, "Run directory written by `loid train`")->required();
  cmd->add_option("--user", *user, "User id as in the data file");
  cmd->add_option("--user-review", *texts,
                  "Instead of --user: a review written by a user the model does not know "
                  "(repeatable; the first k are used)");
  cmd->add_option("--item", *items, "Item id as in the data file (repeatable)")->required();
  cmd->add_flag("--explain", *explain,
                "Also say why: each rating's parts and the context reviews with their attention "
                "weights (known users and items only; as POST /v1/explain answers)");
  cmd->callback([run, user, items, texts, explain] {
    if (user->empty() == texts->empty())
      throw loid::UsageError("give either --user or --user-review");
    loid::LoadedRun r(*run);
    std::vector<std::int64_t> item_ids;
    for (const auto& name : *items) item_ids.push_back(r.dataset().find_item(name));
    std::vector<float> p;
    std::int64_t uid = -1;
    if (!texts->empty()) {
      p = r.predict_for_texts(*texts, item_ids);
    } else {
      uid = r.dataset().find_user(*user);
      p = r.predict(std::vector<std::int64_t>(item_ids.size(), uid), item_ids);
    }
    json out = {{"run", *run}, {"predictions", json::array()}};
    if (!user->empty()) {
      out["user"] = *user;
      out["known_user"] = uid >= 0;
    } else {
      out["user_reviews"] = texts->size();
    }
    for (std::size_t j = 0; j < p.size(); ++j)
      out["predictions"].push_back(
          {{"item", (*items)[j]}, {"known_item", item_ids[j] >= 0}, {"rating", p[j]}});
    if (*explain) {
      if (uid < 0) throw loid::UsageError("--explain needs a user the run knows (--user)");
      out["explanations"] = json::array();
      for (std::size_t j = 0; j < item_ids.size(); ++j) {
        if (item_ids[j] < 0)
          throw loid::UsageError("--explain: item '" + (*items)[j] + "' is not known to the run");
        out["explanations"].push_back(json::parse(loid::explain_json(r, uid, item_ids[j])));
      }
    }
    if (r.leaky()) out["warning"] = "LEAKY: the run used the paper-leaky protocol";
    std::cout << out.dump(2) << "\n";
  });
}

void add_recommend(CLI::App& app) {
  auto run = std::make_shared<std::string>();
  auto user = std::make_shared<std::string>();
  auto top = std::make_shared<std::size_t>(10);
  auto include_rated = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "recommend", "Rank the items a user has not rated by predicted rating (JSON out)");
  cmd->add_option("--run", *run, "Run directory written by `loid train`")->required();
  cmd->add_option("--user", *user, "User id as in the data file")->required();
  cmd->add_option("--top", *top, "How many items")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--include-rated", *include_rated,
                "Also rank items the user rated in the training split");
  cmd->callback([run, user, top, include_rated] {
    const loid::LoadedRun r(*run);
    const std::int64_t uid = r.dataset().find_user(*user);
    if (uid < 0)
      throw loid::UsageError("user '" + *user + "' does not occur in " + r.settings().data);
    json out = {{"run", *run}, {"user", *user}, {"items", json::array()}};
    for (const auto& [item, score] : r.recommend(uid, *top, !*include_rated))
      out["items"].push_back({{"item", r.dataset().item_name(item)}, {"score", score}});
    std::cout << out.dump(2) << "\n";
  });
}

}  // namespace loid::cli
