/**
 * Which of the two BPE flavours a `tokenizer.json` is (docs/reference/tokenizers.md,
 * "Flavours"): byte-level BPE (GPT-2 / Llama-3 style, `tokenizer.ggml.model =
 * "gpt2"`) or SentencePiece BPE with byte fallback as transformers' LlamaConverter
 * builds it from a Llama-2 `tokenizer.model` (`tokenizer.ggml.model = "llama"`).
 * Anything else is an {@link UnsupportedError} that names what was found.
 *
 * @example
 * ```ts
 * import { tokenizerFlavour } from "./flavour.ts";
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * tokenizerFlavour(json, "tokenizer.json"); // { kind: "byte-level" }
 * ```
 * @module
 */

import { UnsupportedError } from "../errors.ts";
import { isJsonObject, type JsonObject } from "./tokenizer_json.ts";

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
