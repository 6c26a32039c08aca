/**
 * The tiny-bitnet fixture tokenizer against the PyTorch-side reference
 * (reference.json prompt ids and greedy tokens) and the fixture README's facts,
 * from tokenizer.json and from GGUF metadata; plus the error cases.
 */

import assert from "node:assert/strict";
import { hfGguf } from "../../deps.ts";
import { FormatError, TokenizerMismatchError, UnsupportedError } from "../../lib/errors.ts";
import { Keys, TokenType } from "../../lib/gguf/keys.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { GgufValueType } from "../../lib/gguf/types.ts";
import { readTokenizerMetadata, tokenizerMetadataFromJson } from "../../lib/tokenizer/metadata.ts";
import { detectPreTokenizerSignals } from "../../lib/tokenizer/pretokenizer.ts";
import { TextTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { roundTripGguf } from "./_gguf.ts";

const DIR = "fixtures/tiny-bitnet";
const JSON_PATH = `${DIR}/tokenizer.json`;
const json: unknown = JSON.parse(await Deno.readTextFile(JSON_PATH));
const config: unknown = JSON.parse(await Deno.readTextFile(`${DIR}/tokenizer_config.json`));
const modelConfig = JSON.parse(await Deno.readTextFile(`${DIR}/config.json`)) as {
  vocab_size: number;
  bos_token_id: number;
  eos_token_id: number;
};
interface ReferencePrompt {
  prompt: string;
  prompt_ids: number[];
  bitnet: { greedy_ids: number[]; greedy_tokens: string[]; greedy_text: string };
}
const reference = JSON.parse(await Deno.readTextFile(`${DIR}/reference.json`)) as {
  prompts: ReferencePrompt[];
};

const meta = tokenizerMetadataFromJson(json, {
  vocabSize: modelConfig.vocab_size,
  bosId: modelConfig.bos_token_id,
  eosId: modelConfig.eos_token_id,
  tokenizerConfig: config,
  source: JSON_PATH,
});
const tmp = await Deno.makeTempDir({ prefix: "tokenizer-fixture-" });
const ggufPath = `${tmp}/fixture-vocab.gguf`;
const gguf = await roundTripGguf(tmp, "fixture-vocab.gguf", meta);
const fromJson = await TextTokenizer.load({ tokenizerJsonPath: JSON_PATH });
const fromGguf = await TextTokenizer.load({ gguf });
const both = await TextTokenizer.load({ tokenizerJsonPath: JSON_PATH, gguf });
const sources: Array<[string, TextTokenizer]> = [
  ["tokenizer.json", fromJson],
  ["GGUF metadata", fromGguf],
  ["json + GGUF", both],
];

const VARIED_TEXTS = [
  "The capital of France is Paris.",
  "Once upon a time, there was a brave little bear named Tom.",
  "5 plus 43 is 48. 1234567 3.14159 -0.5e10",
  "tabs\tand\t\tmore\ttabs",
  "Windows line\r\nendings\r\n\r\nand\rlone CR",
  "  leading and trailing spaces   ",
  "\n\n\nnewlines only\n",
  "Müller aß Crème brûlée in Zürich — naïve façade",
  "Привет, мир! Здравствуйте.",
  "日本語のテキストと中文文本",
  "emoji: 🚀🦙😶‍🌫️ ✅ 👍🏽 family: 👨‍👩‍👧‍👦",
  "I've been 'told he's there, 'RE you sure? 'M not sure I'll make it",
  "mixed<|begin_of_text|>special<|end_of_text|>",
  "\u0000\u0001 control bytes \u007f and U+FFFD \ufffd",
  "",
  " ",
];

Deno.test("fixture: metadata matches the fixture README and config.json", () => {
  assert.equal(meta.model, "gpt2");
  assert.equal(meta.pre, "llama-bpe");
  assert.equal(meta.tokens.length, 2048);
  assert.equal(meta.merges.length, 1790);
  assert.equal(meta.bosId, 2046);
  assert.equal(meta.eosId, 2047);
  assert.equal(meta.paddingId, null);
  assert.equal(meta.addBos, true);
  assert.equal(meta.chatTemplate, null);
  assert.equal(meta.tokens[2046], "<|begin_of_text|>");
  assert.equal(meta.tokens[2047], "<|end_of_text|>");
  assert.deepEqual(meta.tokenTypes.slice(2046), [TokenType.CONTROL, TokenType.CONTROL]);
  assert.ok(meta.tokenTypes.slice(0, 2046).every((t) => t === TokenType.NORMAL));
  // README: "Token ids 0..255 are the single bytes in byte order (id b = byte b)".
  for (let b = 0; b < 256; b++) assert.deepEqual([...fromGguf.tokenBytes(b)], [b], `byte ${b}`);
  assert.equal(meta.tokens[32], "Ġ");
  assert.equal(meta.tokens[10], "Ċ");
});

Deno.test("fixture: reference.json prompt ids (with BOS) from every source", () => {
  assert.ok(reference.prompts.length >= 4);
  for (const [name, tok] of sources) {
    for (const p of reference.prompts) {
      assert.deepEqual(tok.encode(p.prompt), p.prompt_ids, `${name}: ${p.prompt}`);
      assert.deepEqual(tok.encode(p.prompt, { addBos: false }), p.prompt_ids.slice(1));
    }
  }
});

Deno.test("fixture: reference.json greedy token strings and text decode from every source", () => {
  for (const [name, tok] of sources) {
    for (const p of reference.prompts) {
      const g = p.bitnet;
      assert.deepEqual(g.greedy_ids.map((id) => tok.tokenString(id)), g.greedy_tokens, name);
      assert.equal(tok.decode(g.greedy_ids), g.greedy_text, name);
    }
  }
});

Deno.test("fixture: decode(encode(x)) round-trips varied text; tokenBytes concatenate to UTF-8", () => {
  const utf8 = new TextEncoder();
  for (const [name, tok] of sources) {
    for (const text of VARIED_TEXTS) {
      const ids = tok.encode(text, { addBos: false });
      assert.equal(tok.decode(ids), text, `${name}: ${JSON.stringify(text)}`);
      const bytes = ids.flatMap((id) => [...tok.tokenBytes(id)]);
      assert.deepEqual(bytes, [...utf8.encode(text)], `${name} bytes: ${JSON.stringify(text)}`);
    }
    // Sources agree on ids too.
    for (const text of VARIED_TEXTS) {
      assert.deepEqual(tok.encode(text), fromJson.encode(text), `${name}: ${JSON.stringify(text)}`);
    }
  }
});

Deno.test("fixture: special tokens in text, skipSpecial, and the BOS/EOS ids", () => {
  const ids = fromGguf.encode("<|begin_of_text|>Once<|end_of_text|>", { addBos: false });
  assert.equal(ids[0], 2046);
  assert.equal(ids.at(-1), 2047);
  assert.equal(fromGguf.decode(ids), "<|begin_of_text|>Once<|end_of_text|>");
  assert.equal(fromGguf.decode(ids, { skipSpecial: true }), "Once");
  assert.equal(fromJson.decode(ids, { skipSpecial: true }), "Once");
  assert.equal(fromGguf.decode([]), "");
  assert.throws(() => fromGguf.decode([2048]), RangeError);
  assert.throws(() => fromGguf.tokenString(-1), RangeError);
  for (const tok of [fromJson, fromGguf, both]) {
    assert.equal(tok.bosId, 2046);
    assert.equal(tok.eosId, 2047);
    assert.equal(tok.vocabSize, 2048);
    assert.equal(tok.addBos, true);
  }
});

Deno.test("fixture: GGUF keys and types, cross-checked with @huggingface/gguf", async () => {
  assert.deepEqual(readTokenizerMetadata(gguf), meta);
  const h = await hfGguf(ggufPath, { allowLocalFile: true, typedMetadata: true });
  const kv = h.typedMetadata as unknown as Record<
    string,
    { value: unknown; type: number; subType?: number }
  >;
  const k = Keys.tokenizer;
  assert.deepEqual(kv[k.model], { value: "gpt2", type: GgufValueType.STRING });
  assert.deepEqual(kv[k.pre], { value: "llama-bpe", type: GgufValueType.STRING });
  assert.equal(kv[k.tokens]?.subType, GgufValueType.STRING);
  assert.deepEqual(kv[k.tokens]?.value, meta.tokens);
  assert.equal(kv[k.tokenType]?.subType, GgufValueType.INT32);
  assert.deepEqual(kv[k.tokenType]?.value, meta.tokenTypes);
  assert.equal(kv[k.merges]?.subType, GgufValueType.STRING);
  assert.equal((kv[k.merges]?.value as string[])[0], "h e");
  assert.deepEqual(kv[k.bosId], { value: 2046, type: GgufValueType.UINT32 });
  assert.deepEqual(kv[k.eosId], { value: 2047, type: GgufValueType.UINT32 });
  assert.deepEqual(kv[k.addBos], { value: true, type: GgufValueType.BOOL });
  assert.equal(kv[k.paddingId], undefined);
  assert.equal(kv[k.chatTemplate], undefined);
});

Deno.test("fixture: a vocab_size above the tokenizer pads with [PAD{i}] (type 5)", async () => {
  const padded = tokenizerMetadataFromJson(json, {
    vocabSize: 2050,
    tokenizerConfig: config,
    source: JSON_PATH,
  });
  assert.deepEqual(padded.tokens.slice(2046), [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "[PAD2048]",
    "[PAD2049]",
  ]);
  assert.deepEqual(padded.tokenTypes.slice(2048), [TokenType.UNUSED, TokenType.UNUSED]);
  const tok = TextTokenizer.fromMetadata(padded);
  assert.equal(tok.vocabSize, 2050);
  assert.equal(tok.decode([463, 2048, 275]), "The capital");
  assert.deepEqual(
    tok.encode("[PAD2048]", { addBos: false }),
    fromJson.encode("[PAD2048]", { addBos: false }),
  );
  // A GGUF padded to config.json's vocab_size still agrees with the unpadded tokenizer.json.
  const g = await roundTripGguf(tmp, "padded.gguf", padded);
  try {
    const loaded = await TextTokenizer.load({ tokenizerJsonPath: JSON_PATH, gguf: g });
    assert.equal(loaded.vocabSize, 2050);
    assert.deepEqual(loaded.encode("Once upon a time"), [2046, 378, 376, 260, 373]);
  } finally {
    g.close();
  }
});

Deno.test("fixture: token id >= vocab_size is a TokenizerMismatchError naming file, id and size", () => {
  assert.throws(
    () => tokenizerMetadataFromJson(json, { vocabSize: 2000, source: JSON_PATH }),
    (e: unknown) =>
      e instanceof TokenizerMismatchError && e.exitCode === 6 &&
      e.message.includes(JSON_PATH) && e.message.includes("has id 2000,") &&
      e.message.includes("vocab_size is 2000 (48 tokens have ids >= 2000)"),
  );
  // The added tokens count too.
  assert.throws(
    () => tokenizerMetadataFromJson(json, { vocabSize: 2047, source: JSON_PATH }),
    /"<\|end_of_text\|>" has id 2047, but config.json vocab_size is 2047/,
  );
});

Deno.test("fixture: BOS/EOS disagreements are TokenizerMismatchErrors", () => {
  const opts = { vocabSize: 2048, tokenizerConfig: config, source: JSON_PATH };
  assert.throws(
    () => tokenizerMetadataFromJson(json, { ...opts, bosId: 1 }),
    (e: unknown) =>
      e instanceof TokenizerMismatchError &&
      /BOS id is 1 in config.json but 2046 in fixtures\/tiny-bitnet\/tokenizer.json/.test(
        e.message,
      ),
  );
  assert.throws(
    () => tokenizerMetadataFromJson(json, { ...opts, eosId: 2046 }),
    /EOS id is 2046 in config.json but 2047/,
  );
  // tokenizer_config's bos_token against the post-processor's BOS.
  assert.throws(
    () =>
      tokenizerMetadataFromJson(json, {
        ...opts,
        tokenizerConfig: { bos_token: "<|end_of_text|>" },
      }),
    /BOS id is 2047 in tokenizer_config.json .* but 2046 in the post-processor/,
  );
  assert.throws(
    () => tokenizerMetadataFromJson(json, { ...opts, tokenizerConfig: { eos_token: "<nope>" } }),
    (e: unknown) => e instanceof TokenizerMismatchError && /eos_token "<nope>"/.test(e.message),
  );
});

Deno.test("fixture: load() refuses a GGUF whose tokens, size, merges or BOS differ", async () => {
  const cases: Array<[string, typeof meta, RegExp]> = [];
  const tokens = [...meta.tokens];
  tokens[463] = "THE";
  cases.push(["token", { ...meta, tokens }, /token 463 is "The" in tokenizer.json but "THE"/]);
  cases.push([
    "size",
    {
      ...meta,
      tokens: meta.tokens.slice(0, 2047),
      tokenTypes: meta.tokenTypes.slice(0, 2047),
      eosId: null,
    },
    /has 2048 tokens but .* has 2047/,
  ]);
  cases.push([
    "merges",
    { ...meta, merges: meta.merges.slice(1) },
    /1790 merges, the GGUF 1789/,
  ]);
  cases.push(["bos", { ...meta, bosId: 0 }, /BOS id is 2046 in tokenizer.json but 0 in the GGUF/]);
  for (const [name, altered, pattern] of cases) {
    const g = await roundTripGguf(tmp, `altered-${name}.gguf`, altered);
    try {
      await assert.rejects(
        TextTokenizer.load({ tokenizerJsonPath: JSON_PATH, gguf: g }),
        (e: unknown) => e instanceof TokenizerMismatchError && pattern.test(e.message),
        name,
      );
    } finally {
      g.close();
    }
  }
});

/** A GGUF with the fixture's required tokenizer keys except `missing`. */
async function writeWithout(missing: string): Promise<string> {
  const w = new GgufWriter();
  const k = Keys.tokenizer;
  if (missing !== k.model) w.addString(k.model, meta.model);
  if (missing !== k.tokens) w.addStringArray(k.tokens, meta.tokens);
  if (missing !== k.tokenType) w.addI32Array(k.tokenType, meta.tokenTypes);
  if (missing !== k.merges) w.addStringArray(k.merges, meta.merges);
  const path = `${tmp}/without-${missing}.gguf`;
  await Deno.writeFile(path, w.header());
  return path;
}

Deno.test("fixture: readTokenizerMetadata names a missing key; unsupported models are refused", async () => {
  const k = Keys.tokenizer;
  for (const missing of [k.model, k.tokens, k.tokenType, k.merges]) {
    const g = await openGguf(await writeWithout(missing));
    try {
      assert.throws(
        () => readTokenizerMetadata(g),
        (e: unknown) =>
          e instanceof FormatError && e.message.includes(`metadata key "${missing}" is missing`),
        missing,
      );
    } finally {
      g.close();
    }
  }
  // A "llama" (SentencePiece) GGUF needs scores: their absence is named; other models are refused.
  const cases: Array<[string, string]> = [
    ["llama", `metadata key "${k.scores}" is missing`],
    ["bert", '"bert"'],
  ];
  for (const [model, check] of cases) {
    const w = new GgufWriter();
    w.addString(k.model, model);
    w.addStringArray(k.tokens, meta.tokens);
    w.addI32Array(k.tokenType, meta.tokenTypes);
    const path = `${tmp}/model-${model}.gguf`;
    await Deno.writeFile(path, w.header());
    const g = await openGguf(path);
    try {
      assert.throws(
        () => readTokenizerMetadata(g),
        (e: unknown) =>
          (model === "llama" ? e instanceof FormatError : e instanceof UnsupportedError) &&
          (e as Error).message.includes(check),
        model,
      );
    } finally {
      g.close();
    }
  }
  assert.throws(
    () => TextTokenizer.fromMetadata({ ...meta, pre: null }),
    (e: unknown) => e instanceof UnsupportedError && /pre-tokenizer null/.test(e.message),
  );
  assert.throws(
    () => TextTokenizer.fromMetadata({ ...meta, pre: "gpt-2" }),
    (e: unknown) => e instanceof UnsupportedError && /pre-tokenizer "gpt-2"/.test(e.message),
  );
});

Deno.test("fixture: tokenizers that are neither byte-level nor SentencePiece BPE are UnsupportedErrors", () => {
  const base = json as Record<string, unknown>;
  const model = base.model as Record<string, unknown>;
  const wordPiece = { ...base, model: { ...model, type: "WordPiece" } };
  assert.throws(
    () => tokenizerMetadataFromJson(wordPiece, { vocabSize: 2048, source: "wp/tokenizer.json" }),
    (e: unknown) =>
      e instanceof UnsupportedError && e.exitCode === 5 && e.message.includes("wp/tokenizer.json"),
  );
  // SentencePiece never splits on spaces: a Metaspace that splits (the default) is not it.
  const metaspace = {
    ...base,
    pre_tokenizer: { type: "Metaspace", replacement: "▁" },
    model: { ...model, byte_fallback: true },
  };
  assert.throws(
    () => tokenizerMetadataFromJson(metaspace, { vocabSize: 2048, source: "spm/tokenizer.json" }),
    (e: unknown) =>
      e instanceof UnsupportedError && e.message.includes("spm/tokenizer.json") &&
      e.message.includes("byte_fallback but not SentencePiece's layout") &&
      e.message.includes('"Metaspace"'),
  );
  const noByteLevel = { ...base, pre_tokenizer: { type: "Whitespace" } };
  assert.throws(
    () => tokenizerMetadataFromJson(noByteLevel, { vocabSize: 2048, source: "ws/tokenizer.json" }),
    (e: unknown) =>
      e instanceof UnsupportedError && e.message.includes("neither byte-level") &&
      e.message.includes('"Whitespace"'),
  );
});

Deno.test("fixture: pre-tokenizer by regex; an unknown regex is an UnsupportedError naming it", () => {
  assert.equal(detectPreTokenizerSignals(json).pre, "llama-bpe");
  const signals = detectPreTokenizerSignals(json, (t) => fromJson.encode(t, { addBos: true }));
  assert.equal(signals.fromRegex, "llama-bpe");
  assert.match(signals.checkHash ?? "", /^[0-9a-f]{64}$/);
  assert.equal(signals.fromHash, null);
  assert.equal(signals.pre, "llama-bpe");
  // Any change to the split regex or the layout is not llama-bpe.
  const base = json as Record<string, unknown>;
  const pt = base.pre_tokenizer as { pretokenizers: Array<Record<string, unknown>> };
  const gpt2Regex = {
    ...base,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { ...pt.pretokenizers[0], pattern: { Regex: String.raw`'s|'t| ?\p{L}+| ?\p{N}+` } },
        pt.pretokenizers[1],
      ],
    },
  };
  assert.equal(detectPreTokenizerSignals(gpt2Regex).pre, null);
  assert.throws(
    () =>
      tokenizerMetadataFromJson(gpt2Regex, { vocabSize: 2048, source: "gpt2re/tokenizer.json" }),
    (e: unknown) =>
      e instanceof UnsupportedError && e.exitCode === 5 &&
      e.message.includes("gpt2re/tokenizer.json: unknown BPE pre-tokenizer") &&
      e.message.includes(JSON.stringify(String.raw`'s|'t| ?\p{L}+| ?\p{N}+`)) &&
      /check hash [0-9a-f]{64}/.test(e.message),
  );
  const plainByteLevel = {
    ...base,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
  };
  assert.equal(detectPreTokenizerSignals(plainByteLevel).pre, null);
  assert.throws(
    () => tokenizerMetadataFromJson(plainByteLevel, { vocabSize: 2048, source: JSON_PATH }),
    (e: unknown) =>
      e instanceof UnsupportedError && e.message.includes('pre_tokenizer {"type":"ByteLevel"'),
  );
});

Deno.test("fixture: cleanup", async () => {
  gguf.close();
  await Deno.remove(tmp, { recursive: true });
});
