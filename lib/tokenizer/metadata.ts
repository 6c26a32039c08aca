/**
 * GGUF tokenizer metadata (docs/reference/tokenizers.md) for BPE tokenizers, both
 * flavours: byte-level BPE (`tokenizer.ggml.model = "gpt2"`, Llama-3, Falcon3) and
 * SentencePiece BPE (`"llama"`, Llama-2). Built from a Hugging Face
 * `tokenizer.json` as llama.cpp's convert_hf_to_gguf.py does (`get_vocab_base`,
 * `_set_vocab_sentencepiece` + gguf-py `SpecialVocab`), written with
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

import { HfTokenizer } from "../../deps.ts";
import { FormatError, TokenizerMismatchError } from "../errors.ts";
import { TokenType } from "../gguf/keys.ts";
import { type TokenizerFlavour, tokenizerFlavour } from "./flavour.ts";
import { defaultAddBos, resolvePreTokenizer } from "./pretokenizer.ts";
import { sentencePieceTypesAndScores, type TokenSources } from "./sentencepiece.ts";
import {
  configTokenContent,
  isJsonObject,
  type JsonObject,
  type ParsedTokenizerJson,
  parseTokenizerJson,
} from "./tokenizer_json.ts";

export { defaultAddBos, detectPreTokenizerSignals } from "./pretokenizer.ts";
export type { PreTokenizerSignals } from "./pretokenizer.ts";
export { readTokenizerMetadata, writeTokenizerMetadata } from "./metadata_gguf.ts";

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

/** The special-token keys, as gguf-py `SpecialVocab` finds them. */
interface SpecialIds {
  bosId: number | null;
  eosId: number | null;
  unkId: number | null;
  paddingId: number | null;
  /** tokenizer_config `add_bos_token`, else the post-processor's leading special, else null. */
  addBos: boolean | null;
  addEos: boolean | null;
}

/**
 * BOS/EOS/UNK/PAD ids and add_bos/add_eos from tokenizer_config.json, the
 * post-processor and config.json; any two sources that disagree are a
 * {@link TokenizerMismatchError}.
 */
function specialIds(
  parsed: ParsedTokenizerJson,
  table: TokenTable,
  opts: TokenizerMetadataOptions,
): SpecialIds {
  const { source, vocabSize } = opts;
  const config: JsonObject = isJsonObject(opts.tokenizerConfig) ? opts.tokenizerConfig : {};
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
  const encode = opts.encodeWithSpecials ?? ((text: string) => {
    const config = isJsonObject(opts.tokenizerConfig) ? opts.tokenizerConfig : {};
    const hf = new HfTokenizer(json, config);
    return hf.encode(text, { add_special_tokens: true }).ids;
  });
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
  const ids = specialIds(parsed, table, opts);
  const part = flavourMetadata(flavour, json, parsed, table, opts);
  const unkFromModel = parsed.unkToken === null ? null : parsed.vocab.get(parsed.unkToken) ?? null;
  const config: JsonObject = isJsonObject(opts.tokenizerConfig) ? opts.tokenizerConfig : {};
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
