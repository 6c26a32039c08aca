/**
 * GGUF tokenizer metadata (FORMATS.md §2) for byte-level BPE tokenizers: built
 * from a Hugging Face `tokenizer.json` the way llama.cpp's convert_hf_to_gguf.py
 * does (`get_vocab_base` + gguf-py `SpecialVocab`), written with
 * {@link GgufWriter}, and read back from a {@link GgufFile}.
 *
 * @example
 * ```ts
 * import { tokenizerMetadataFromJson, writeTokenizerMetadata } from "./metadata.ts";
 * import { GgufWriter } from "../gguf/writer.ts";
 * const dir = "fixtures/tiny-bitnet";
 * const meta = tokenizerMetadataFromJson(JSON.parse(await Deno.readTextFile(`${dir}/tokenizer.json`)), {
 *   vocabSize: 2048, bosId: 2046, eosId: 2047,
 *   tokenizerConfig: JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`)),
 *   source: `${dir}/tokenizer.json`,
 * });
 * const w = new GgufWriter();
 * writeTokenizerMetadata(w, meta);
 * ```
 * @module
 */

import { FormatError, TokenizerMismatchError, UnsupportedError } from "../errors.ts";
import { Keys, TokenType } from "../gguf/keys.ts";
import type { GgufFile } from "../gguf/reader.ts";
import { GgufValueType } from "../gguf/types.ts";
import type { GgufWriter } from "../gguf/writer.ts";
import { detectPreTokenizer } from "./pretokenizer.ts";
import {
  configTokenContent,
  isJsonObject,
  type JsonObject,
  parseTokenizerJson,
} from "./tokenizer_json.ts";

export { detectPreTokenizer, detectPreTokenizerSignals } from "./pretokenizer.ts";
export type { PreTokenizerSignals } from "./pretokenizer.ts";

/** Everything `tokenizer.ggml.*` holds for a byte-level BPE tokenizer. */
export interface TokenizerMetadata {
  /** `tokenizer.ggml.model`: "gpt2" for byte-level BPE. */
  model: string;
  /** `tokenizer.ggml.pre`: "llama-bpe" when recognized, else null (key not written). */
  pre: string | null;
  /** Id order; byte-level strings exactly as in tokenizer.json (e.g. "Ġcapital"). */
  tokens: string[];
  /** i32 {@link TokenType}: 1 normal, 3 control, 4 user-defined, 5 unused ([PAD{i}]). */
  tokenTypes: number[];
  /** "left right", in priority order. */
  merges: string[];
  bosId: number | null;
  eosId: number | null;
  paddingId: number | null;
  /** Whether encoding prepends the BOS. */
  addBos: boolean;
  /** tokenizer_config.json `chat_template`. */
  chatTemplate: string | null;
}

/** Options of {@link tokenizerMetadataFromJson}. */
export interface TokenizerMetadataOptions {
  /** config.json `vocab_size`. */
  vocabSize: number;
  /** config.json `bos_token_id`, if any. */
  bosId?: number | null;
  /** config.json `eos_token_id`, if any. */
  eosId?: number | null;
  /** Parsed tokenizer_config.json, if any. */
  tokenizerConfig?: unknown;
  /** Path of tokenizer.json, for messages. */
  source: string;
}

/**
 * llama.cpp's `does_token_look_special`: added tokens it marks CONTROL even when
 * tokenizer.json says `special: false`.
 */
function looksSpecial(token: string): boolean {
  return ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(token) ||
    (token.startsWith("<|") && token.endsWith("|>")) ||
    (token.startsWith("<\uff5c") && token.endsWith("\uff5c>")) ||
    (token.startsWith("<unused") && token.endsWith(">"));
}

/**
 * One more than the largest id in tokenizer.json (vocab and added tokens): the
 * vocabulary size when config.json gives none. Ids are validated later by
 * {@link tokenizerMetadataFromJson}.
 *
 * @example
 * ```ts
 * tokenizerJsonVocabSize({ model: { vocab: { a: 0, b: 1 } }, added_tokens: [{ id: 5 }] }); // 6
 * ```
 */
export function tokenizerJsonVocabSize(tokenizerJson: unknown, source = "tokenizer.json"): number {
  const model = isJsonObject(tokenizerJson) ? tokenizerJson.model : undefined;
  const vocab = isJsonObject(model) ? model.vocab : undefined;
  if (!isJsonObject(vocab)) {
    throw new FormatError(`${source}: model.vocab is missing or not an object`);
  }
  let max = -1;
  for (const id of Object.values(vocab)) if (typeof id === "number" && id > max) max = id;
  const added = isJsonObject(tokenizerJson) ? tokenizerJson.added_tokens : undefined;
  if (Array.isArray(added)) {
    for (const t of added as unknown[]) {
      if (isJsonObject(t) && typeof t.id === "number" && t.id > max) max = t.id;
    }
  }
  return max + 1;
}

/** A name's id: the added token or vocab entry with exactly that text. */
function idOfName(
  name: string,
  added: ReadonlyMap<string, number>,
  vocab: ReadonlyMap<string, number>,
): number | undefined {
  return added.get(name) ?? vocab.get(name);
}

/**
 * Agrees two optional ids or throws: `a` and `b` come from the places `aWhere`
 * and `bWhere` name.
 */
function agreeIds(
  what: string,
  a: number | null,
  aWhere: string,
  b: number | null,
  bWhere: string,
): number | null {
  if (a !== null && b !== null && a !== b) {
    throw new TokenizerMismatchError(`${what} id is ${a} in ${aWhere} but ${b} in ${bWhere}`);
  }
  return a ?? b;
}

/**
 * Builds GGUF tokenizer metadata from a parsed tokenizer.json, as llama.cpp's
 * converter does. Ids ≥ `vocabSize` and BOS/EOS disagreements are a
 * {@link TokenizerMismatchError}; ids below `vocabSize` with no token become
 * `[PAD{id}]` (type 5); a model that is not byte-level BPE is an
 * {@link UnsupportedError}.
 *
 * Added tokens are CONTROL (3) when `special` (or when llama.cpp thinks they look
 * special, e.g. `<|...|>`), else USER_DEFINED (4). `addBos` follows
 * tokenizer_config `add_bos_token`, else the post-processor template, else
 * llama.cpp's default for the pre-tokenizer (true for llama-bpe).
 *
 * @example
 * ```ts
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * const meta = tokenizerMetadataFromJson(json, { vocabSize: 2048, source: "tokenizer.json" });
 * meta.bosId; // 2046 (from the TemplateProcessing post-processor)
 * ```
 */
export function tokenizerMetadataFromJson(
  tokenizerJson: unknown,
  opts: TokenizerMetadataOptions,
): TokenizerMetadata {
  const { vocabSize, source } = opts;
  if (!Number.isSafeInteger(vocabSize) || vocabSize <= 0) {
    throw new FormatError(`${source}: vocab_size must be a positive integer, got ${vocabSize}`);
  }
  const parsed = parseTokenizerJson(tokenizerJson, source);
  const tokens: (string | undefined)[] = new Array(vocabSize).fill(undefined);
  const tokenTypes: number[] = new Array(vocabSize).fill(TokenType.UNUSED);
  let tooBig: { id: number; token: string; count: number } | null = null;
  const noteTooBig = (id: number, token: string) => {
    if (!tooBig) tooBig = { id, token, count: 0 };
    tooBig.count++;
    if (id < tooBig.id) tooBig = { id, token, count: tooBig.count };
  };
  for (const [token, id] of parsed.vocab) {
    if (id >= vocabSize) {
      noteTooBig(id, token);
      continue;
    }
    if (tokens[id] !== undefined) {
      throw new FormatError(
        `${source}: id ${id} is given to both ${JSON.stringify(tokens[id])} and ${
          JSON.stringify(token)
        }`,
      );
    }
    tokens[id] = token;
    tokenTypes[id] = TokenType.NORMAL;
  }
  const addedIds = new Map<string, number>();
  for (const t of parsed.addedTokens) {
    if (t.id >= vocabSize) {
      noteTooBig(t.id, t.content);
      continue;
    }
    const existing = tokens[t.id];
    if (existing !== undefined && existing !== t.content) {
      throw new FormatError(
        `${source}: added token ${
          JSON.stringify(t.content)
        } has id ${t.id}, which model.vocab gives to ${JSON.stringify(existing)}`,
      );
    }
    tokens[t.id] = t.content;
    tokenTypes[t.id] = t.special || looksSpecial(t.content)
      ? TokenType.CONTROL
      : TokenType.USER_DEFINED;
    addedIds.set(t.content, t.id);
  }
  if (tooBig) {
    const { id, token, count } = tooBig;
    throw new TokenizerMismatchError(
      `${source}: token ${
        JSON.stringify(token)
      } has id ${id}, but config.json vocab_size is ${vocabSize}` +
        (count > 1 ? ` (${count} tokens have ids >= ${vocabSize})` : ""),
    );
  }
  const filled: string[] = tokens.map((t, i) => t ?? `[PAD${i}]`);

  const config: JsonObject = isJsonObject(opts.tokenizerConfig) ? opts.tokenizerConfig : {};
  const configSource = `tokenizer_config.json (beside ${source})`;
  const configId = (key: string): number | null => {
    const name = configTokenContent(config, key, configSource);
    if (name === null) return null;
    const id = idOfName(name, addedIds, parsed.vocab);
    if (id === undefined) {
      throw new TokenizerMismatchError(
        `${configSource}: ${key} ${JSON.stringify(name)} is not a token of ${source}`,
      );
    }
    return id;
  };

  const template = parsed.template;
  const tokBos = agreeIds(
    "BOS",
    configId("bos_token"),
    configSource,
    template?.firstSpecialId ?? null,
    `the post-processor of ${source}`,
  );
  const tokEos = agreeIds(
    "EOS",
    configId("eos_token"),
    configSource,
    template?.lastSpecialId ?? null,
    `the post-processor of ${source}`,
  );
  const bosId = agreeIds("BOS", opts.bosId ?? null, "config.json", tokBos, source);
  const eosId = agreeIds("EOS", opts.eosId ?? null, "config.json", tokEos, source);
  const paddingId = configId("pad_token") ?? parsed.paddingId;
  for (const [what, id] of [["BOS", bosId], ["EOS", eosId], ["padding", paddingId]] as const) {
    if (id !== null && id >= vocabSize) {
      throw new TokenizerMismatchError(
        `${source}: ${what} id ${id} is not below config.json vocab_size ${vocabSize}`,
      );
    }
  }

  const pre = detectPreTokenizer(tokenizerJson);
  let addBos: boolean;
  if (typeof config.add_bos_token === "boolean") addBos = config.add_bos_token;
  else if (template !== null) addBos = template.firstSpecialId !== null;
  else addBos = pre === "llama-bpe";

  return {
    model: "gpt2",
    pre,
    tokens: filled,
    tokenTypes,
    merges: [...parsed.merges],
    bosId,
    eosId,
    paddingId,
    addBos,
    chatTemplate: chatTemplateOf(config, configSource),
  };
}

/** tokenizer_config `chat_template`: a string, or the "default" of a named list. */
function chatTemplateOf(config: JsonObject, source: string): string | null {
  const t = config.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = (t as unknown[]).find((x) => isJsonObject(x) && x.name === "default");
    if (isJsonObject(named) && typeof named.template === "string") return named.template;
    return null;
  }
  throw new FormatError(`${source}: chat_template is neither a string nor a list of templates`);
}

/**
 * Adds the `tokenizer.ggml.*` keys and `tokenizer.chat_template` to a writer.
 * Null fields are not written.
 *
 * @example
 * ```ts
 * import { GgufWriter } from "../gguf/writer.ts";
 * const w = new GgufWriter();
 * writeTokenizerMetadata(w, {
 *   model: "gpt2", pre: "llama-bpe", tokens: ["a", "b", "ab"], tokenTypes: [1, 1, 1],
 *   merges: ["a b"], bosId: null, eosId: null, paddingId: null, addBos: false, chatTemplate: null,
 * });
 * ```
 */
export function writeTokenizerMetadata(w: GgufWriter, meta: TokenizerMetadata): void {
  if (meta.tokenTypes.length !== meta.tokens.length) {
    throw new FormatError(
      `tokenizer metadata: ${meta.tokens.length} tokens but ${meta.tokenTypes.length} token types`,
    );
  }
  const k = Keys.tokenizer;
  w.addString(k.model, meta.model);
  if (meta.pre !== null) w.addString(k.pre, meta.pre);
  w.addStringArray(k.tokens, meta.tokens);
  w.addI32Array(k.tokenType, meta.tokenTypes);
  w.addStringArray(k.merges, meta.merges);
  if (meta.bosId !== null) w.addU32(k.bosId, meta.bosId);
  if (meta.eosId !== null) w.addU32(k.eosId, meta.eosId);
  if (meta.paddingId !== null) w.addU32(k.paddingId, meta.paddingId);
  w.addBool(k.addBos, meta.addBos);
  if (meta.chatTemplate !== null) w.addString(k.chatTemplate, meta.chatTemplate);
}

function stringArray(g: GgufFile, key: string): string[] {
  const kv = g.kv(key);
  const values = g.getArray(key);
  if (kv?.arrayType !== GgufValueType.STRING) {
    throw new FormatError(`${g.path}: metadata key "${key}" is not an array of strings`);
  }
  return values as string[];
}

function optionalId(g: GgufFile, key: string, vocabSize: number): number | null {
  if (!g.kv(key)) return null;
  const id = g.getNumber(key);
  if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
    throw new FormatError(`${g.path}: ${key} = ${id} is not a token id below ${vocabSize}`);
  }
  return id;
}

/**
 * Reads the tokenizer metadata of a GGUF file. A missing required key
 * (`tokenizer.ggml.model`, `tokens`, `token_type`, `merges`) is a
 * {@link FormatError} naming it; a model other than "gpt2" an
 * {@link UnsupportedError}. Without `add_bos_token`, `addBos` is llama.cpp's
 * default (true for llama-bpe).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const g = await openGguf("models/clean/clean-f16.gguf");
 * const meta = readTokenizerMetadata(g);
 * g.close();
 * ```
 */
export function readTokenizerMetadata(g: GgufFile): TokenizerMetadata {
  const k = Keys.tokenizer;
  const model = g.getString(k.model);
  if (model !== "gpt2") {
    throw new UnsupportedError(
      `${g.path}: ${k.model} is "${model}"; only "gpt2" (byte-level BPE) is supported`,
    );
  }
  const pre = g.kv(k.pre) ? g.getString(k.pre) : null;
  const tokens = stringArray(g, k.tokens);
  const rawTypes = g.getArray(k.tokenType);
  if (rawTypes.length !== tokens.length) {
    throw new FormatError(
      `${g.path}: ${k.tokenType} has ${rawTypes.length} entries for ${tokens.length} tokens`,
    );
  }
  const tokenTypes = rawTypes.map((t, i) => {
    if (typeof t !== "number" || !Number.isInteger(t)) {
      throw new FormatError(`${g.path}: ${k.tokenType}[${i}] = ${String(t)} is not an integer`);
    }
    return t;
  });
  const merges = stringArray(g, k.merges);
  const addBos = g.kv(k.addBos) ? g.getBool(k.addBos) : pre === "llama-bpe";
  return {
    model,
    pre,
    tokens,
    tokenTypes,
    merges,
    bosId: optionalId(g, k.bosId, tokens.length),
    eosId: optionalId(g, k.eosId, tokens.length),
    paddingId: optionalId(g, k.paddingId, tokens.length),
    addBos,
    chatTemplate: g.kv(k.chatTemplate) ? g.getString(k.chatTemplate) : null,
  };
}
