// The page `loid serve` answers at GET /: pick a user, see the top recommendations and, for each,
// why (the parts of the rating and the context reviews that weighed most, highlighted by weight).
// Plain HTML, CSS and a little JavaScript that calls /v1/model, /v1/recommend and /v1/explain.
#pragma once

#include <string>

namespace loid {

const std::string& explain_page_html();

}  // namespace loid
