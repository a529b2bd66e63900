// Expected ids for the tiny-vocabulary cases of tests/text/unigram_test.cpp, from the reference
// tokenizer (@energetic-ai/embeddings 0.2.0). Run: cd tests/golden/use_lite && npm ci && node tiny_tokenizer_cases.cjs
const { EmbeddingsModel } = require('@energetic-ai/embeddings');
const reserved = [["�",0],["<s>",0],["</s>",0],["r3",0],["r4",0],["r5",0]];
const tok = (v) => new EmbeddingsModel({ vocabulary: reserved.concat(v), model: null }).tokenizer;
const A = tok([["▁a",-1],["a",-2],["b",-1.5],["▁ab",-2.5],["▁",-3],["fi",-1]]);
for (const t of ["ab","a b","a€€b","€","ﬁ","", " ", "a\tb", "b😀😀a"]) console.log('A', JSON.stringify(t), JSON.stringify(A.encode(t)));
const B = tok([["q",-1],["▁q",-4]]);
for (const t of ["q", "qq", "x"]) console.log('B', JSON.stringify(t), JSON.stringify(B.encode(t)));
const C = tok([["▁",-1],["x",0],["y",-1],["xy",-5]]);
for (const t of ["xy", "xyx"]) console.log('C', JSON.stringify(t), JSON.stringify(C.encode(t)));
