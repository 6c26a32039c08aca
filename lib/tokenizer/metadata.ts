/**
 * GGUF tokenizer metadata (docs/reference/tokenizers.md) for BPE tokenizers, both
 * flavours: byte-level BPE (`tokenizer.ggml.model = "gpt2"`, Llama-3, Falcon3) and
 * SentencePiece BPE (`"llama"`, Llama-2). Built from a Hugging Face
 * `tokenizer.json` as llama.cpp's convert_hf_to_gguf.py does (`get_vocab_base`,
 * `_set_vocab_sentencepiece` + gguf-py `SpecialVocab`), written with
 * {@link GgufWriter}, and read back from a {@link GgufFile} (docs/reference/tokenizers.md,
 * "GGUF keys"). Which keys a tokenizer model has is data ({@link TOKENIZER_MODELS});
 * optional keys are written only when known, as gguf-py's `SpecialVocab` does, so a
 * file equals llama.cpp's key for key.
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

import { HfTokenizer } from "../../deps.ts";
import { FormatError, TokenizerMismatchError, UnsupportedError } from "../errors.ts";
import { Keys, TokenType } from "../gguf/keys.ts";
import type { GgufFile } from "../gguf/reader.ts";
import { GgufValueType } from "../gguf/types.ts";
import type { GgufWriter } from "../gguf/writer.ts";
import { defaultAddBos, resolvePreTokenizer } from "./pretokenizer.ts";
import { sentencePieceTypesAndScores, type TokenSources } from "./sentencepiece.ts";
import {
  configTokenContent,
  type ParsedTokenizerJson,
  parseTokenizerJson,
  type TokenizerFlavour,
  tokenizerFlavour,
} from "./tokenizer_json.ts";
import { isJsonObject, type JsonObject } from "../io/json.ts";

/**
 * Everything `tokenizer.ggml.*` holds. Nullable fields are keys that are not
 * written (absent in a GGUF read back).
 */
export interface TokenizerMetadata {
  /** `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece). */
  model: string;
  /** `tokenizer.ggml.pre`: a llama.cpp pre-tokenizer name; "default" for SentencePiece. */
  pre: string | null;
  /** Id order; byte-level strings ("Ġcapital") or SentencePiece pieces ("▁capital"). */
  tokens: string[];
  /** i32 {@link TokenType}: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  tokenTypes: number[];
  /** `tokenizer.ggml.scores` (f32): SentencePiece only, null for byte-level BPE. */
  scores: number[] | null;
  /** "left right", in priority order: byte-level BPE only, empty for SentencePiece. */
  merges: string[];
  bosId: number | null;
  eosId: number | null;
  /** `tokenizer.ggml.unknown_token_id`. */
  unkId: number | null;
  paddingId: number | null;
  /** Whether encoding prepends the BOS. */
  addBos: boolean;
  /** `tokenizer.ggml.add_eos_token`, when tokenizer_config or the post-processor says. */
  addEos: boolean | null;
  /** `tokenizer.ggml.add_space_prefix`; null = absent (llama.cpp: true for "llama", false for "gpt2"). */
  addSpacePrefix: boolean | null;
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
  /**
   * Encodes with the post-processor's special tokens, for llama.cpp's check hash
   * of a byte-level BPE; default: an `@huggingface/tokenizers` of this json.
   */
  encodeWithSpecials?: (text: string) => readonly number[];
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

/** Token sources by id, plus the ids of added tokens by text. */
interface TokenTable extends TokenSources {
  readonly addedIds: ReadonlyMap<string, number>;
}

/**
 * Lays the vocabulary and the added tokens out by id. Ids ≥ `vocabSize` are a
 * {@link TokenizerMismatchError} naming the smallest; two texts for one id a
 * {@link FormatError}.
 */
function tokenTable(parsed: ParsedTokenizerJson, vocabSize: number, source: string): TokenTable {
  const tokens: (string | undefined)[] = new Array(vocabSize).fill(undefined);
  const inVocab: boolean[] = new Array(vocabSize).fill(false);
  const addedSpecial = new Map<number, boolean>();
  const addedIds = new Map<string, number>();
  const tooBig: Array<[number, string]> = [];
  const place = (id: number, token: string, what: string) => {
    const existing = tokens[id];
    if (existing !== undefined && existing !== token) {
      throw new FormatError(
        `${source}: ${what} ${JSON.stringify(token)} has id ${id}, which is already ${
          JSON.stringify(existing)
        }`,
      );
    }
    tokens[id] = token;
  };
  for (const [token, id] of parsed.vocab) {
    if (id >= vocabSize) tooBig.push([id, token]);
    else if (tokens[id] !== undefined) place(id, token, "token");
    else (tokens[id] = token, inVocab[id] = true);
  }
  for (const t of parsed.addedTokens) {
    if (t.id >= vocabSize) {
      tooBig.push([t.id, t.content]);
      continue;
    }
    place(t.id, t.content, "added token");
    addedSpecial.set(t.id, t.special || looksSpecial(t.content));
    addedIds.set(t.content, t.id);
  }
  if (tooBig.length > 0) {
    const [id, token] = tooBig.reduce((a, b) => (b[0] < a[0] ? b : a));
    throw new TokenizerMismatchError(
      `${source}: token ${
        JSON.stringify(token)
      } has id ${id}, but config.json vocab_size is ${vocabSize}` +
        (tooBig.length > 1 ? ` (${tooBig.length} tokens have ids >= ${vocabSize})` : ""),
    );
  }
  return { tokens: tokens.map((t, i) => t ?? `[PAD${i}]`), inVocab, addedSpecial, addedIds };
}

/** Byte-level token types: added tokens CONTROL or USER_DEFINED, vocab NORMAL, holes UNUSED. */
function byteLevelTypes(table: TokenTable): number[] {
  return table.tokens.map((_, id) => {
    const special = table.addedSpecial.get(id);
    if (special !== undefined) return special ? TokenType.CONTROL : TokenType.USER_DEFINED;
    return table.inVocab[id] ? TokenType.NORMAL : TokenType.UNUSED;
  });
}

/**
 * The special-token keys, as gguf-py `SpecialVocab` finds them; `addBos` is
 * tokenizer_config `add_bos_token`, else the post-processor's leading special, else null.
 */
type SpecialIds =
  & Pick<TokenizerMetadata, "bosId" | "eosId" | "unkId" | "paddingId" | "addEos">
  & { addBos: boolean | null };

/**
 * BOS/EOS/UNK/PAD ids and add_bos/add_eos from tokenizer_config.json, the
 * post-processor and config.json; any two sources that disagree are a
 * {@link TokenizerMismatchError}.
 */
function specialIds(
  parsed: ParsedTokenizerJson,
  table: TokenTable,
  config: JsonObject,
  opts: TokenizerMetadataOptions,
): SpecialIds {
  const { source, vocabSize } = opts;
  const configSource = `tokenizer_config.json (beside ${source})`;
  const configId = (key: string): number | null => {
    const name = configTokenContent(config, key, configSource);
    if (name === null) return null;
    const id = table.addedIds.get(name) ?? parsed.vocab.get(name);
    if (id === undefined) {
      throw new TokenizerMismatchError(
        `${configSource}: ${key} ${JSON.stringify(name)} is not a token of ${source}`,
      );
    }
    return id;
  };
  const template = parsed.template;
  const fromTemplate = `the post-processor of ${source}`;
  const agreed = (what: string, key: string, templateId: number | null | undefined) =>
    agreeIds(what, configId(key), configSource, templateId ?? null, fromTemplate);
  const tokBos = agreed("BOS", "bos_token", template?.firstSpecialId);
  const tokEos = agreed("EOS", "eos_token", template?.lastSpecialId);
  const ids: SpecialIds = {
    bosId: agreeIds("BOS", opts.bosId ?? null, "config.json", tokBos, source),
    eosId: agreeIds("EOS", opts.eosId ?? null, "config.json", tokEos, source),
    unkId: configId("unk_token"),
    paddingId: configId("pad_token") ?? parsed.paddingId,
    addBos: typeof config.add_bos_token === "boolean"
      ? config.add_bos_token
      : template === null
      ? null
      : template.firstSpecialId !== null,
    addEos: typeof config.add_eos_token === "boolean"
      ? config.add_eos_token
      : template?.lastSpecialId != null
      ? true
      : null,
  };
  const { bosId, eosId, unkId, paddingId } = ids;
  const names = { BOS: bosId, EOS: eosId, UNK: unkId, padding: paddingId };
  for (const [what, id] of Object.entries(names)) {
    if (id !== null && id >= vocabSize) {
      throw new TokenizerMismatchError(
        `${source}: ${what} id ${id} is not below config.json vocab_size ${vocabSize}`,
      );
    }
  }
  return ids;
}

/** The flavour-specific part: model, pre-tokenizer, types, scores, merges. */
function flavourMetadata(
  flavour: TokenizerFlavour,
  json: JsonObject,
  parsed: ParsedTokenizerJson,
  table: TokenTable,
  config: JsonObject,
  opts: TokenizerMetadataOptions,
): Pick<
  TokenizerMetadata,
  "model" | "pre" | "tokenTypes" | "scores" | "merges" | "addSpacePrefix"
> {
  if (flavour.kind === "sentencepiece") {
    const { tokenTypes, scores } = sentencePieceTypesAndScores(table, parsed);
    // llama.cpp's SPM default is add_space_prefix = true: the key is written only when false.
    const addSpacePrefix = flavour.addSpacePrefix ? null : false;
    return { model: "llama", pre: "default", tokenTypes, scores, merges: [], addSpacePrefix };
  }
  const encode = opts.encodeWithSpecials ??
    ((text: string) =>
      new HfTokenizer(json, config).encode(text, { add_special_tokens: true }).ids);
  return {
    model: "gpt2",
    pre: resolvePreTokenizer(json, opts.source, encode),
    tokenTypes: byteLevelTypes(table),
    scores: null,
    merges: [...parsed.merges],
    addSpacePrefix: null,
  };
}

/**
 * The `tokenizer.ggml.*` metadata of a tokenizer.json, whatever the model family,
 * as llama.cpp's converter writes it (docs/reference/tokenizers.md):
 *
 * - byte-level BPE: model "gpt2", `pre` from llama.cpp's check hash or the Split
 *   regex (else an {@link UnsupportedError} naming the regex), merges; added
 *   tokens CONTROL when `special` (or when llama.cpp thinks they look special,
 *   e.g. `<|...|>`), else USER_DEFINED;
 * - SentencePiece BPE (byte fallback, ▁ normalizer): model "llama", pre
 *   "default", scores and types as in the `tokenizer.model` it was converted
 *   from (see sentencepiece.ts), no merges.
 *
 * Ids ≥ `vocabSize` and BOS/EOS disagreements are a {@link TokenizerMismatchError};
 * ids below `vocabSize` with no token become `[PAD{id}]` (UNUSED). `addBos`
 * follows tokenizer_config `add_bos_token`, else the post-processor template,
 * else llama.cpp's default (true for SentencePiece and the Llama-3 split).
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
  const json = tokenizerJson as JsonObject;
  const flavour = tokenizerFlavour(json, source);
  const table = tokenTable(parsed, vocabSize, source);
  const config: JsonObject = isJsonObject(opts.tokenizerConfig) ? opts.tokenizerConfig : {};
  const ids = specialIds(parsed, table, config, opts);
  const part = flavourMetadata(flavour, json, parsed, table, config, opts);
  const unkFromModel = parsed.unkToken === null ? null : parsed.vocab.get(parsed.unkToken) ?? null;
  return {
    ...part,
    tokens: [...table.tokens],
    bosId: ids.bosId,
    eosId: ids.eosId,
    unkId: ids.unkId ?? (part.model === "llama" ? unkFromModel : null),
    paddingId: ids.paddingId,
    addBos: ids.addBos ?? defaultAddBos(part.model, part.pre),
    addEos: ids.addEos,
    chatTemplate: chatTemplateOf(config, `tokenizer_config.json (beside ${source})`),
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

/** Per `tokenizer.ggml.model`: which of scores and merges it must have. */
export const TOKENIZER_MODELS: Readonly<Record<string, { scores: boolean; merges: boolean }>> = {
  /** Byte-level BPE (GPT-2, Llama-3, Falcon3). */
  gpt2: { scores: false, merges: true },
  /** SentencePiece (Llama-2): scores decide the merge order, no merges list. */
  llama: { scores: true, merges: false },
};

function modelOf(model: string, where: string): { scores: boolean; merges: boolean } {
  const m = TOKENIZER_MODELS[model];
  if (!m) {
    throw new UnsupportedError(
      `${where}: ${Keys.tokenizer.model} is "${model}"; supported: ${
        Object.keys(TOKENIZER_MODELS).map((k) => `"${k}"`).join(", ")
      }`,
    );
  }
  return m;
}

/**
 * Adds the `tokenizer.ggml.*` keys and `tokenizer.chat_template` to a writer.
 * Null fields are not written; scores only for "llama", merges only for "gpt2".
 *
 * @example
 * ```ts
 * import { GgufWriter } from "../gguf/writer.ts";
 * const w = new GgufWriter();
 * writeTokenizerMetadata(w, {
 *   model: "gpt2", pre: "llama-bpe", tokens: ["a", "b", "ab"], tokenTypes: [1, 1, 1],
 *   scores: null, merges: ["a b"], bosId: null, eosId: null, unkId: null, paddingId: null,
 *   addBos: false, addEos: null, addSpacePrefix: null, chatTemplate: null,
 * });
 * ```
 */
export function writeTokenizerMetadata(w: GgufWriter, meta: TokenizerMetadata): void {
  const spec = modelOf(meta.model, "tokenizer metadata");
  const n = meta.tokens.length;
  if (meta.tokenTypes.length !== n || (spec.scores && meta.scores?.length !== n)) {
    throw new FormatError(
      `tokenizer metadata: ${n} tokens but ${meta.tokenTypes.length} token types and ${
        meta.scores?.length ?? 0
      } scores`,
    );
  }
  const k = Keys.tokenizer;
  w.addString(k.model, meta.model);
  if (meta.pre !== null) w.addString(k.pre, meta.pre);
  w.addStringArray(k.tokens, meta.tokens);
  if (spec.scores) w.addF32Array(k.scores, meta.scores!);
  w.addI32Array(k.tokenType, meta.tokenTypes);
  if (spec.merges) w.addStringArray(k.merges, meta.merges);
  const { bosId, eosId, unkId, paddingId } = meta;
  const ids = { [k.bosId]: bosId, [k.eosId]: eosId, [k.unkId]: unkId, [k.paddingId]: paddingId };
  for (const [key, id] of Object.entries(ids)) if (id !== null) w.addU32(key, id);
  w.addBool(k.addBos, meta.addBos);
  if (meta.addEos !== null) w.addBool(k.addEos, meta.addEos);
  if (meta.addSpacePrefix !== null) w.addBool(k.addSpacePrefix, meta.addSpacePrefix);
  if (meta.chatTemplate !== null) w.addString(k.chatTemplate, meta.chatTemplate);
}

function typedArray(g: GgufFile, key: string, type: GgufValueType, what: string): unknown[] {
  const values = g.getArray(key);
  if (g.kv(key)?.arrayType !== type) {
    throw new FormatError(`${g.path}: metadata key "${key}" is not an array of ${what}`);
  }
  return values;
}

function optionalId(g: GgufFile, key: string, vocabSize: number): number | null {
  if (!g.kv(key)) return null;
  const id = g.getNumber(key);
  if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
    throw new FormatError(`${g.path}: ${key} = ${id} is not a token id below ${vocabSize}`);
  }
  return id;
}

function optionalBool(g: GgufFile, key: string): boolean | null {
  return g.kv(key) ? g.getBool(key) : null;
}

/** `tokenizer.ggml.token_type`: one integer per token. */
function tokenTypesOf(g: GgufFile, n: number): number[] {
  const key = Keys.tokenizer.tokenType;
  const raw = g.getArray(key);
  if (raw.length !== n) {
    throw new FormatError(`${g.path}: ${key} has ${raw.length} entries for ${n} tokens`);
  }
  return raw.map((t, i) => {
    if (typeof t !== "number" || !Number.isInteger(t)) {
      throw new FormatError(`${g.path}: ${key}[${i}] = ${String(t)} is not an integer`);
    }
    return t;
  });
}

/**
 * Reads the tokenizer metadata of a GGUF file. A missing required key (model,
 * tokens, token types, and scores for "llama" or merges for "gpt2") is a
 * {@link FormatError} naming it; another model an {@link UnsupportedError}.
 * Without `add_bos_token`, `addBos` is llama.cpp's default.
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
  const spec = modelOf(model, g.path);
  const pre = g.kv(k.pre) ? g.getString(k.pre) : null;
  const tokens = typedArray(g, k.tokens, GgufValueType.STRING, "strings") as string[];
  const scores = spec.scores
    ? typedArray(g, k.scores, GgufValueType.FLOAT32, "f32") as number[]
    : null;
  if (scores !== null && scores.length !== tokens.length) {
    throw new FormatError(
      `${g.path}: ${k.scores} has ${scores.length} entries for ${tokens.length} tokens`,
    );
  }
  return {
    model,
    pre,
    tokens,
    tokenTypes: tokenTypesOf(g, tokens.length),
    scores,
    merges: spec.merges ? typedArray(g, k.merges, GgufValueType.STRING, "strings") as string[] : [],
    bosId: optionalId(g, k.bosId, tokens.length),
    eosId: optionalId(g, k.eosId, tokens.length),
    unkId: optionalId(g, k.unkId, tokens.length),
    paddingId: optionalId(g, k.paddingId, tokens.length),
    addBos: optionalBool(g, k.addBos) ?? defaultAddBos(model, pre),
    addEos: optionalBool(g, k.addEos),
    addSpacePrefix: optionalBool(g, k.addSpacePrefix),
    chatTemplate: g.kv(k.chatTemplate) ? g.getString(k.chatTemplate) : null,
  };
}
