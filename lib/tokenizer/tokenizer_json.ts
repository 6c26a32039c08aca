/**
 * Reads the parts of a Hugging Face `tokenizer.json` (and `tokenizer_config.json`)
 * that GGUF tokenizer metadata needs, from untyped parsed JSON, with errors that
 * name the file and the field; and which of the two BPE flavours it is
 * (docs/reference/tokenizers.md, "Flavours"): byte-level BPE (GPT-2 / Llama-3
 * style, `tokenizer.ggml.model = "gpt2"`) or SentencePiece BPE with byte fallback
 * as transformers' LlamaConverter builds it from a Llama-2 `tokenizer.model`
 * (`"llama"`). Any other layout is an {@link UnsupportedError} naming what was found.
 *
 * @example
 * ```ts
 * import { parseTokenizerJson } from "./tokenizer_json.ts";
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * const parsed = parseTokenizerJson(json, "fixtures/tiny-bitnet/tokenizer.json");
 * parsed.vocab.size; // 2046
 * tokenizerFlavour(json, "tokenizer.json"); // { kind: "byte-level" }
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";
import { isJsonObject, type JsonObject } from "../io/json.ts";

/** One entry of `added_tokens`. */
export interface AddedTokenJson {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
  readonly normalized: boolean;
}

/**
 * The `added_tokens` entry a tokenizer.json built from GGUF metadata gives
 * `HfTokenizer` (never stripped, never a single word).
 *
 * @example
 * ```ts
 * addedTokenJson(3, "<s>", { normalized: false, special: true }).lstrip; // false
 * ```
 */
export function addedTokenJson(
  id: number,
  content: string,
  flags: { readonly normalized: boolean; readonly special: boolean },
): JsonObject {
  return { id, content, single_word: false, lstrip: false, rstrip: false, ...flags };
}

/** A BPE `tokenizer.json` (byte-level or SentencePiece-style), narrowed to what we use. */
export interface ParsedTokenizerJson {
  /** `model.vocab`: token string (byte-level or with ▁ for spaces) → id. */
  readonly vocab: ReadonlyMap<string, number>;
  /** `model.merges` as "left right" strings, in priority order. */
  readonly merges: readonly string[];
  readonly addedTokens: readonly AddedTokenJson[];
  readonly ignoreMerges: boolean;
  /** `model.byte_fallback`: unknown bytes become `<0xXX>` tokens (SentencePiece style). */
  readonly byteFallback: boolean;
  /** `model.unk_token`, if any. */
  readonly unkToken: string | null;
  /** `post_processor`'s TemplateProcessing (possibly inside a Sequence), if any. */
  readonly template: TemplateInfo | null;
  /** `padding.pad_id`, if padding is configured. */
  readonly paddingId: number | null;
}

/** What a TemplateProcessing post-processor adds around a single sequence. */
export interface TemplateInfo {
  /** Id of the special token before sequence A, or null when A comes first. */
  readonly firstSpecialId: number | null;
  /** Id of the special token after sequence A, or null when A comes last. */
  readonly lastSpecialId: number | null;
}

function isId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** The ids of a TemplateProcessing special token named `name`. */
function templateSpecialId(tp: JsonObject, name: string, source: string): number {
  const specials = isJsonObject(tp.special_tokens) ? tp.special_tokens : {};
  const entry = specials[name];
  const ids = isJsonObject(entry) ? entry.ids : undefined;
  if (!Array.isArray(ids) || ids.length !== 1 || !isId(ids[0])) {
    throw new FormatError(
      `${source}: post_processor TemplateProcessing names special token "${name}" without exactly one id in special_tokens`,
    );
  }
  return ids[0];
}

function parseTemplate(pp: unknown, source: string): TemplateInfo | null {
  if (!isJsonObject(pp)) return null;
  if (pp.type === "Sequence" && Array.isArray(pp.processors)) {
    for (const inner of pp.processors) {
      const t = parseTemplate(inner, source);
      if (t) return t;
    }
    return null;
  }
  if (pp.type !== "TemplateProcessing") return null;
  if (!Array.isArray(pp.single)) {
    throw new FormatError(`${source}: post_processor TemplateProcessing has no "single" template`);
  }
  const items = pp.single as unknown[];
  const seqAt = items.findIndex((it) => isJsonObject(it) && "Sequence" in it);
  const specialName = (it: unknown): string | null => {
    if (!isJsonObject(it) || !isJsonObject(it.SpecialToken)) return null;
    const id = it.SpecialToken.id;
    return typeof id === "string" ? id : null;
  };
  const first = seqAt > 0 ? specialName(items[0]) : null;
  const last = seqAt >= 0 && seqAt < items.length - 1 ? specialName(items[items.length - 1]) : null;
  return {
    firstSpecialId: first === null ? null : templateSpecialId(pp, first, source),
    lastSpecialId: last === null ? null : templateSpecialId(pp, last, source),
  };
}

/** "left right": exactly one space, with text on both sides. */
function isMergeString(m: string): boolean {
  const sp = m.indexOf(" ");
  return sp > 0 && sp < m.length - 1 && m.indexOf(" ", sp + 1) === -1;
}

/**
 * Narrows a parsed `tokenizer.json`. Malformed structure is a {@link FormatError};
 * a model that is not BPE is an {@link UnsupportedError}. Which BPE flavour it is
 * (byte-level or SentencePiece) is decided by {@link tokenizerFlavour} below.
 *
 * @example
 * ```ts
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * parseTokenizerJson(json, "tokenizer.json").merges[0]; // "h e"
 * ```
 */
export function parseTokenizerJson(json: unknown, source: string): ParsedTokenizerJson {
  if (!isJsonObject(json)) throw new FormatError(`${source}: not a JSON object`);
  const model = json.model;
  if (!isJsonObject(model)) throw new FormatError(`${source}: "model" is missing or not an object`);
  if (model.type !== "BPE") {
    throw new UnsupportedError(
      `${source}: model.type is ${
        JSON.stringify(model.type ?? null)
      }; only BPE models ("BPE": byte-level or SentencePiece-style) are supported`,
    );
  }
  if (!isJsonObject(model.vocab)) throw new FormatError(`${source}: model.vocab is not an object`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(model.vocab)) {
    if (!isId(id)) {
      throw new FormatError(
        `${source}: model.vocab[${JSON.stringify(token)}] = ${
          JSON.stringify(id)
        } is not a token id`,
      );
    }
    vocab.set(token, id);
  }
  if (!Array.isArray(model.merges)) {
    throw new FormatError(`${source}: model.merges is not an array`);
  }
  const merges: string[] = new Array(model.merges.length);
  for (const [i, m] of (model.merges as unknown[]).entries()) {
    if (typeof m === "string" && isMergeString(m)) {
      merges[i] = m;
    } else if (
      Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string"
    ) {
      merges[i] = `${m[0]} ${m[1]}`;
    } else {
      throw new FormatError(
        `${source}: model.merges[${i}] = ${JSON.stringify(m)} is neither "left right" nor a pair`,
      );
    }
  }
  const addedRaw = json.added_tokens ?? [];
  if (!Array.isArray(addedRaw)) throw new FormatError(`${source}: added_tokens is not an array`);
  const addedTokens: AddedTokenJson[] = (addedRaw as unknown[]).map((t, i) => {
    if (!isJsonObject(t) || !isId(t.id) || typeof t.content !== "string") {
      throw new FormatError(`${source}: added_tokens[${i}] lacks a numeric id or a string content`);
    }
    return {
      id: t.id,
      content: t.content,
      special: t.special === true,
      normalized: t.normalized === true,
    };
  });
  const padding = json.padding;
  const paddingId = isJsonObject(padding) && isId(padding.pad_id) ? padding.pad_id : null;
  return {
    vocab,
    merges,
    addedTokens,
    ignoreMerges: model.ignore_merges === true,
    byteFallback: model.byte_fallback === true,
    unkToken: typeof model.unk_token === "string" ? model.unk_token : null,
    template: parseTemplate(json.post_processor, source),
    paddingId,
  };
}

/**
 * The text of a special-token entry of `tokenizer_config.json`: either a string or
 * an AddedToken-like object with `content`. Null when absent.
 *
 * @example
 * ```ts
 * configTokenContent({ bos_token: { content: "<s>" } }, "bos_token", "tokenizer_config.json"); // "<s>"
 * ```
 */
export function configTokenContent(
  config: JsonObject,
  key: string,
  source: string,
): string | null {
  const v = config[key];
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  if (isJsonObject(v) && typeof v.content === "string") return v.content;
  throw new FormatError(`${source}: ${key} is neither a string nor an object with "content"`);
}

/** SentencePiece's whitespace marker, U+2581 "▁". */
export const SPM_SPACE = "\u2581";

/** A tokenizer.json's flavour. */
export type TokenizerFlavour =
  | { readonly kind: "byte-level" }
  | {
    readonly kind: "sentencepiece";
    /** SentencePiece `add_dummy_prefix`: a ▁ is prepended to the text (llama.cpp `add_space_prefix`). */
    readonly addSpacePrefix: boolean;
  };

/** True when the pre-tokenizer (or one step of a Sequence) is ByteLevel. */
function hasByteLevel(pt: unknown): boolean {
  if (!isJsonObject(pt)) return false;
  if (pt.type === "ByteLevel") return true;
  return pt.type === "Sequence" && Array.isArray(pt.pretokenizers) &&
    pt.pretokenizers.some(hasByteLevel);
}

function isSpaceToMarker(n: unknown): boolean {
  return isJsonObject(n) && n.type === "Replace" && isJsonObject(n.pattern) &&
    n.pattern.String === " " && n.content === SPM_SPACE;
}

function isPrependMarker(n: unknown): boolean {
  return isJsonObject(n) && n.type === "Prepend" && n.prepend === SPM_SPACE;
}

/**
 * The SentencePiece layouts transformers writes, with their `add_dummy_prefix`;
 * null for any other layout:
 * - normalizer `Sequence[Prepend ▁, Replace " " → ▁]` (or the Replace alone), no
 *   pre-tokenizer (LlamaConverter, legacy);
 * - no normalizer, pre-tokenizer `Metaspace(▁, prepend_scheme, split: false)`
 *   (LlamaConverter, `legacy: false`). SentencePiece never splits on spaces, so
 *   a Metaspace that splits is not this flavour.
 */
function sentencePieceLayout(json: JsonObject): boolean | null {
  const n = json.normalizer ?? null;
  const pt = json.pre_tokenizer ?? null;
  if (pt === null && isJsonObject(n)) {
    const steps = n.type === "Sequence" && Array.isArray(n.normalizers)
      ? n.normalizers as unknown[]
      : [n];
    if (steps.length === 2 && isPrependMarker(steps[0]) && isSpaceToMarker(steps[1])) return true;
    if (steps.length === 1 && isSpaceToMarker(steps[0])) return false;
    return null;
  }
  if (n === null && isJsonObject(pt) && pt.type === "Metaspace" && pt.replacement === SPM_SPACE) {
    if (pt.split !== false) return null;
    const scheme = pt.prepend_scheme ?? (pt.add_prefix_space === false ? "never" : "always");
    if (scheme === "first" || scheme === "always") return true;
    if (scheme === "never") return false;
  }
  return null;
}

/**
 * The flavour of a BPE tokenizer.json: `byte_fallback` with a SentencePiece layout
 * is "sentencepiece"; no byte fallback with a ByteLevel pre-tokenizer is
 * "byte-level"; anything else an {@link UnsupportedError} naming the normalizer
 * and pre-tokenizer.
 *
 * @example
 * ```ts
 * tokenizerFlavour({
 *   model: { type: "BPE", byte_fallback: true },
 *   normalizer: { type: "Sequence", normalizers: [
 *     { type: "Prepend", prepend: "▁" },
 *     { type: "Replace", pattern: { String: " " }, content: "▁" },
 *   ] },
 *   pre_tokenizer: null,
 * }, "tokenizer.json"); // { kind: "sentencepiece", addSpacePrefix: true }
 * ```
 */
export function tokenizerFlavour(json: JsonObject, source: string): TokenizerFlavour {
  const model = isJsonObject(json.model) ? json.model : {};
  const describe = () =>
    `normalizer ${JSON.stringify(json.normalizer ?? null).slice(0, 200)}, pre_tokenizer ${
      JSON.stringify(json.pre_tokenizer ?? null).slice(0, 200)
    }`;
  if (model.byte_fallback === true) {
    const addSpacePrefix = sentencePieceLayout(json);
    if (addSpacePrefix === null) {
      throw new UnsupportedError(
        `${source}: a BPE model with byte_fallback but not SentencePiece's layout (${describe()}); ` +
          `supported: Prepend ▁ + Replace " " → ▁, or Metaspace(▁, split false)`,
      );
    }
    return { kind: "sentencepiece", addSpacePrefix };
  }
  if (!hasByteLevel(json.pre_tokenizer)) {
    throw new UnsupportedError(
      `${source}: a BPE model that is neither byte-level (no ByteLevel pre-tokenizer) nor ` +
        `SentencePiece-style (no byte_fallback): ${describe()}`,
    );
  }
  return { kind: "byte-level" };
}
