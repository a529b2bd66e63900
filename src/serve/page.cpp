// The explain page (see page.h). Review texts are inserted with textContent, never as HTML.
#include "serve/page.h"

namespace loid {

const std::string& explain_page_html() {
  static const std::string page = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loid serve: why this rating</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 60em; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.3em; }
#run { color: #666; font-size: 0.9em; }
#warning { color: #a00; font-weight: bold; }
form { margin: 1em 0; }
input { font: inherit; padding: 0.2em 0.4em; width: 18em; }
button { font: inherit; }
.rec { border: 1px solid #ccc; border-radius: 4px; margin: 0.8em 0; padding: 0.5em 0.8em; }
.rec h2 { font-size: 1.05em; margin: 0.2em 0; }
.parts { color: #444; font-size: 0.9em; }
.side { margin-top: 0.5em; }
.side h3 { font-size: 0.95em; margin: 0.3em 0; }
.review { padding: 0.2em 0.4em; margin: 0.15em 0; border-radius: 3px; }
.meta { color: #555; font-size: 0.85em; }
.error { color: #a00; }
</style>
</head>
<body>
<h1>Why this rating</h1>
<div id="run"></div>
<div id="warning"></div>
<form id="pick">
  <label>User <input id="user" list="users" placeholder="a user id of the run's data"></label>
  <datalist id="users"></datalist>
  <label>Top <input id="top" type="number" value="5" min="1" max="50" style="width:4em"></label>
  <button type="submit">Recommend</button>
</form>
<div id="status"></div>
<div id="results"></div>
<script>
"use strict";
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
async function call(path, body) {
  const r = await fetch(path, body === undefined ? {} :
      {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const j = await r.json();
  if (!r.ok) throw new Error((j.error && (j.error.field + ": " + j.error.message)) || r.status);
  return j;
}
function side(title, reviews, whoKey) {
  const box = el("div", "side");
  box.appendChild(el("h3", "", title));
  if (reviews.length === 0) box.appendChild(el("div", "meta", "no reviews in the context"));
  const top = reviews.length ? Math.max(...reviews.map(r => r.weight)) : 1;
  for (const r of reviews) {
    const d = el("div", "review");
    const a = top > 0 ? 0.08 + 0.5 * r.weight / top : 0;
    d.style.background = "rgba(255, 170, 0, " + a.toFixed(3) + ")";
    d.appendChild(el("div", "meta", "weight " + r.weight.toFixed(3) + " (by head " +
        r.weight_by_head.map(w => w.toFixed(2)).join(", ") + ") · " + whoKey + " " + r[whoKey] +
        " · " + r.rating + " stars"));
    d.appendChild(el("div", "", r.text));
    box.appendChild(d);
  }
  return box;
}
async function show(user, top) {
  const results = document.getElementById("results");
  const status = document.getElementById("status");
  results.textContent = "";
  status.textContent = "asking...";
  status.className = "";
  try {
    const rec = await call("/v1/recommend", {user: user, top: top});
    for (const it of rec.items) {
      const x = await call("/v1/explain", {user: user, item: it.item});
      const card = el("div", "rec");
      card.appendChild(el("h2", "", "item " + it.item + ": " + x.rating.toFixed(2) + " stars"));
      const parts = Object.entries(x.parts).map(([k, v]) => k + " " + v.toFixed(3)).join(" + ");
      card.appendChild(el("div", "parts", "= " + parts + " (unclamped " +
          x.unclamped.toFixed(3) + ")"));
      card.appendChild(side("What the item's ID read in this user's reviews", x.user_reviews,
          "item"));
      card.appendChild(side("What the user's ID read in this item's reviews", x.item_reviews,
          "user"));
      results.appendChild(card);
    }
    status.textContent = rec.items.length + " recommendations for " + user;
  } catch (e) {
    status.textContent = String(e.message || e);
    status.className = "error";
  }
}
document.getElementById("pick").addEventListener("submit", ev => {
  ev.preventDefault();
  show(document.getElementById("user").value.trim(),
       parseInt(document.getElementById("top").value, 10) || 5);
});
call("/v1/model").then(m => {
  document.getElementById("run").textContent = "run " + m.run + " · " + m.users + " users · " +
      m.items + " items · " + m.protocol;
  if (m.warning) document.getElementById("warning").textContent = m.warning;
  const list = document.getElementById("users");
  for (const u of m.example_users || []) { const o = el("option"); o.value = u; list.appendChild(o); }
  // ?user=U&top=N fills the form and asks at once (a link to share, and what a headless check
  // loads: scripts/check_page.sh).
  const q = new URLSearchParams(location.search);
  const first = q.get("user") || (m.example_users || [])[0];
  if (first) document.getElementById("user").value = first;
  if (q.get("top")) document.getElementById("top").value = q.get("top");
  if (q.get("user")) show(q.get("user"), parseInt(q.get("top"), 10) || 5);
}).catch(e => { document.getElementById("status").textContent = String(e.message || e); });
</script>
</body>
</html>
)PAGE";
  return page;
}

}  // namespace loid
