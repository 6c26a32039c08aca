/**
 * The Llama-2 SentencePiece tokenizer (tests/tokenizer/vectors/llama-spm, as
 * transformers' LlamaConverter lays it out) against llama.cpp's own data: its
 * llama-spm test vectors and its vocab-only GGUF ggml-vocab-llama-spm.gguf
 * (read with our reader and with @huggingface/gguf). Never against our output.
 */

import assert from "node:assert/strict";
import { hfGguf } from "../../deps.ts";
import { TokenizerMismatchError, UnsupportedError } from "../../lib/errors.ts";
import { Keys, TokenType } from "../../lib/gguf/keys.ts";
import { type GgufFile, openGguf } from "../../lib/gguf/reader.ts";
import {
  readTokenizerMetadata,
  type TokenizerMetadata,
  tokenizerMetadataFromJson,
} from "../../lib/tokenizer/metadata.ts";
import { sentencePieceMerges } from "../../lib/tokenizer/sentencepiece.ts";
import { checkTokenizerAgreement, TextTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { readVectors, writeTokenizerGguf } from "./_gguf.ts";
import { llamaCppSpmEncode } from "./_llamacpp_spm.ts";

const DIR = "tests/tokenizer/vectors";
const JSON_PATH = `${DIR}/llama-spm/tokenizer.json`;
const LLAMA_CPP_GGUF = `${DIR}/ggml-vocab-llama-spm.gguf`;
const json: unknown = JSON.parse(await Deno.readTextFile(JSON_PATH));
const config: unknown = JSON.parse(
  await Deno.readTextFile(`${DIR}/llama-spm/tokenizer_config.json`),
);
const vectors = await readVectors("llama-spm");

const meta = tokenizerMetadataFromJson(json, {
  vocabSize: 32000,
  tokenizerConfig: config,
  source: JSON_PATH,
});
const tmp = await Deno.makeTempDir({ prefix: "tokenizer-llama2-" });
const oursPath = await writeTokenizerGguf(tmp, "ours.gguf", meta);
const ours = await openGguf(oursPath);
const theirs = await openGguf(LLAMA_CPP_GGUF);
const oursMeta = readTokenizerMetadata(ours);
const theirsMeta = readTokenizerMetadata(theirs);

/** Llama-2's lone "▁" piece: a character, so no merge ever forms it. */
const LONE_SPACE_ID = 29871;

function assertVectors(encode: (text: string) => number[], what: string): void {
  assert.equal(vectors.length, 46);
  for (const [i, [text, expected]] of vectors.entries()) {
    assert.deepEqual(encode(text), expected, `${what}, case ${i}: ${JSON.stringify(text)}`);
  }
}

function tokenizerKeys(g: GgufFile): string[] {
  return [...g.metadata.keys()].filter((k) => k.startsWith("tokenizer.")).sort();
}

Deno.test("llama2: all llama.cpp llama-spm vectors from tokenizer.json, ours and llama.cpp's GGUF", async () => {
  const fromJson = await TextTokenizer.load({ tokenizerJsonPath: JSON_PATH });
  const sources: Array<[string, TextTokenizer]> = [
    ["tokenizer.json", fromJson],
    ["our GGUF", TextTokenizer.fromMetadata(oursMeta, oursPath)],
    ["llama.cpp's GGUF", await TextTokenizer.load({ gguf: theirs })],
  ];
  for (const [what, tok] of sources) {
    assertVectors((t) => tok.encode(t, { addBos: false }), what);
    for (const [i, [text, expected]] of vectors.entries()) {
      assert.equal(tok.decode(expected), text, `${what}: decode of case ${i}`);
      // The pieces' bytes are the text with SentencePiece's prefix space.
      const bytes = expected.flatMap((id) => [...tok.tokenBytes(id)]);
      const withPrefix = text.length === 0 ? "" : " " + text;
      assert.equal(
        new TextDecoder().decode(Uint8Array.from(bytes)),
        withPrefix,
        `${what}: bytes ${i}`,
      );
    }
    // BOS 1 first (add_bos_token), no EOS (add_eos_token false): Llama-2's "Hello world".
    assert.deepEqual(tok.encode("Hello world"), [1, 15043, 3186], what);
    assert.equal(tok.decode([1, 15043, 3186], { skipSpecial: true }), "Hello world", what);
  }
});

Deno.test("llama2: exported tokenizer.ggml.* keys equal llama.cpp's GGUF (our reader)", () => {
  assert.deepEqual(tokenizerKeys(ours), tokenizerKeys(theirs));
  const scalars = (m: TokenizerMetadata) => {
    const { tokens: _t, tokenTypes: _y, scores: _s, ...rest } = m;
    return rest;
  };
  assert.deepEqual(scalars(oursMeta), scalars(theirsMeta));
  assert.equal(oursMeta.model, "llama");
  assert.equal(oursMeta.pre, "default");
  assert.deepEqual(oursMeta.tokens, theirsMeta.tokens);
  assert.equal(oursMeta.tokens[30143], "\ufeff"); // a leading U+FEFF is kept, not eaten as a BOM
  assert.deepEqual(oursMeta.tokenTypes, theirsMeta.tokenTypes);
  assert.equal(
    ours.kv(Keys.tokenizer.scores)?.arrayType,
    theirs.kv(Keys.tokenizer.scores)?.arrayType,
  );
  // Scores equal everywhere but the lone "▁" (see the next test).
  const differ = oursMeta.scores!.flatMap((s, id) => (s === theirsMeta.scores![id] ? [] : [id]));
  assert.deepEqual(differ, [LONE_SPACE_ID]);
  assert.equal(theirsMeta.tokens[LONE_SPACE_ID], "\u2581");
  assert.equal(theirsMeta.scores![LONE_SPACE_ID], -1e9);
  assert.equal(oursMeta.scores![LONE_SPACE_ID], -(LONE_SPACE_ID - 259));
  // The whitespace runs Llama-2 scores -1e9 are recovered from the merge order.
  const runs = theirsMeta.tokens.flatMap((t, id) => (/^\u2581{2,}$/.test(t) ? [id] : []));
  assert.equal(runs.length, 15);
  for (const id of runs) assert.equal(oursMeta.scores![id], -1e9, theirsMeta.tokens[id]);
});

Deno.test("llama2: the same keys read with @huggingface/gguf", async () => {
  const read = async (path: string) =>
    (await hfGguf(path, { allowLocalFile: true })).metadata as Record<string, unknown>;
  const [a, b] = [await read(oursPath), await read(LLAMA_CPP_GGUF)];
  const keys = (m: Record<string, unknown>) =>
    Object.keys(m).filter((k) => k.startsWith("tokenizer."));
  assert.deepEqual(keys(a).sort(), keys(b).sort());
  for (const key of keys(b)) {
    if (key === Keys.tokenizer.scores) continue;
    assert.deepEqual(a[key], b[key], key);
  }
  const [sa, sb] = [a[Keys.tokenizer.scores] as number[], b[Keys.tokenizer.scores] as number[]];
  assert.equal(sa.length, 32000);
  assert.deepEqual(sa.flatMap((s, id) => (s === sb[id] ? [] : [id])), [LONE_SPACE_ID]);
});

Deno.test("llama2: llama.cpp's SPM algorithm with our scores passes llama.cpp's vectors", () => {
  // The re-statement is right: with llama.cpp's own scores it passes.
  assertVectors(
    (t) => llamaCppSpmEncode(t, theirsMeta.tokens, theirsMeta.scores!),
    "llama.cpp scores",
  );
  // Our scores (the lone "▁" differs, and no merge ever forms it) tokenize the same.
  assertVectors((t) => llamaCppSpmEncode(t, oursMeta.tokens, oursMeta.scores!), "our scores");
  // llama.cpp's tokenizer.json fallback (gguf-py LlamaHfVocab) writes -1000 for every score:
  // merges then go left to right and llama.cpp's own vectors fail.
  const placeholder = theirsMeta.scores!.map(() => -1000);
  const failing = vectors.filter(([text, expected]) =>
    JSON.stringify(llamaCppSpmEncode(text, theirsMeta.tokens, placeholder)) !==
      JSON.stringify(expected)
  );
  assert.equal(failing.length, 16, "cases that fail with placeholder scores");
});

Deno.test("llama2: merges derived from llama.cpp's scores equal tokenizer.json's, in order", () => {
  const merges = sentencePieceMerges(theirsMeta.tokens, theirsMeta.scores!, theirsMeta.tokenTypes);
  const model = (json as { model: { merges: Array<string | string[]> } }).model;
  const expected = model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
  assert.equal(merges.length, 61249);
  assert.deepEqual(merges, expected);
});

Deno.test("llama2: token types as SentencePiece has them (llama.cpp's GGUF counts)", () => {
  const count = (t: number) => oursMeta.tokenTypes.filter((x) => x === t).length;
  assert.equal(count(TokenType.UNKNOWN), 1);
  assert.equal(count(TokenType.CONTROL), 2);
  assert.equal(count(TokenType.BYTE), 256);
  assert.equal(count(TokenType.NORMAL), 31741);
  assert.deepEqual([oursMeta.unkId, oursMeta.bosId, oursMeta.eosId], [0, 1, 2]);
  assert.deepEqual([oursMeta.addBos, oursMeta.addEos, oursMeta.addSpacePrefix], [
    true,
    false,
    null,
  ]);
});

Deno.test("llama2: Metaspace layout (transformers legacy: false) gives the same keys and ids", () => {
  const base = json as Record<string, unknown>;
  const metaspace = {
    ...base,
    normalizer: null,
    pre_tokenizer: {
      type: "Metaspace",
      replacement: "\u2581",
      prepend_scheme: "first",
      split: false,
    },
  };
  const m = tokenizerMetadataFromJson(metaspace, {
    vocabSize: 32000,
    tokenizerConfig: config,
    source: "ms",
  });
  assert.deepEqual(m, meta);
  const tok = TextTokenizer.fromJson(metaspace, config);
  // SentencePiece prefixes even text that starts with a space (Metaspace "first" would not).
  assertVectors((t) => tok.encode(t, { addBos: false }), "Metaspace");
  const never = {
    ...metaspace,
    pre_tokenizer: { ...metaspace.pre_tokenizer, prepend_scheme: "never" },
  };
  const noPrefix = tokenizerMetadataFromJson(never, {
    vocabSize: 32000,
    tokenizerConfig: config,
    source: "ms",
  });
  assert.equal(noPrefix.addSpacePrefix, false);
  const noPrefixTok = TextTokenizer.fromMetadata(noPrefix);
  assert.deepEqual(noPrefixTok.encode("Hello", { addBos: false }), [10994]); // "Hello", no "▁"
  assert.deepEqual(llamaCppSpmEncode("Hello", theirsMeta.tokens, theirsMeta.scores!, false), [
    10994,
  ]);
});

Deno.test("llama2: json + GGUF agree, a model mismatch is refused; vocab_size pads; bad layouts", async () => {
  const both = await TextTokenizer.load({ tokenizerJsonPath: JSON_PATH, gguf: theirs });
  assert.deepEqual(both.encode("Hello world"), [1, 15043, 3186]);
  assert.throws(
    () => checkTokenizerAgreement(meta, { ...theirsMeta, model: "gpt2" }, "json vs gguf"),
    (e: unknown) =>
      e instanceof TokenizerMismatchError &&
      e.message.includes(
        'json vs gguf: tokenizer.json is a "llama" tokenizer, the GGUF a "gpt2" one',
      ),
  );
  const padded = tokenizerMetadataFromJson(json, {
    vocabSize: 32002,
    tokenizerConfig: config,
    source: "p",
  });
  assert.deepEqual(padded.tokens.slice(32000), ["[PAD32000]", "[PAD32001]"]);
  assert.deepEqual(padded.tokenTypes.slice(32000), [TokenType.UNUSED, TokenType.UNUSED]);
  assert.deepEqual(padded.scores!.slice(32000), [-10000, -10000]);
  assert.throws(
    () => tokenizerMetadataFromJson(json, { vocabSize: 31999, source: "small/tokenizer.json" }),
    (e: unknown) =>
      e instanceof TokenizerMismatchError && e.message.includes("vocab_size is 31999"),
  );
  const badFallback = { ...(json as object), normalizer: { type: "NFKC" } };
  assert.throws(
    () =>
      tokenizerMetadataFromJson(badFallback, { vocabSize: 32000, source: "nfkc/tokenizer.json" }),
    (e: unknown) =>
      e instanceof UnsupportedError && e.message.includes("nfkc/tokenizer.json") &&
      e.message.includes('"NFKC"'),
  );
});

Deno.test("llama2: cleanup", async () => {
  ours.close();
  theirs.close();
  await Deno.remove(tmp, { recursive: true });
});
