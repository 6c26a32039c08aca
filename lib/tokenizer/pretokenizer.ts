/**
 * Which llama.cpp pre-tokenizer (`tokenizer.ggml.pre`) a byte-level BPE
 * `tokenizer.json` uses (FORMATS.md §2). Two independent signals:
 *
 * - the pre-tokenizer layout: `Sequence[Split(Llama-3 regex, Isolated),
 *   ByteLevel(use_regex: false)]` is llama.cpp's "llama-bpe";
 * - llama.cpp's check hash (convert_hf_to_gguf.py `get_vocab_base_pre`): sha256 of
 *   Python `str()` of the ids of {@link LLAMA_CPP_CHKTXT} encoded with the BOS.
 *   It identifies a known vocabulary + pre-tokenizer pair, so it only recognizes
 *   the real Llama-3 tokenizer, not a new vocabulary with the same regex.
 *
 * @example
 * ```ts
 * import { detectPreTokenizer } from "./pretokenizer.ts";
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * detectPreTokenizer(json); // "llama-bpe"
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { isJsonObject } from "./tokenizer_json.ts";

/** The Llama-3 (and cl100k) Split regex, as written in tokenizer.json. */
export const LLAMA3_SPLIT_REGEX = String
  .raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

/**
 * llama.cpp's pre-tokenizer check text (`chktxt` in convert_hf_to_gguf.py
 * `get_vocab_base_pre`), code point for code point. It is also the last case of
 * llama.cpp's ggml-vocab-llama-bpe.gguf.inp.
 */
export const LLAMA_CPP_CHKTXT =
  "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n\u{1f680} (normal) \u{1f636}\u200d\u{1f32b}\ufe0f (multiple emojis concatenated) \u2705 \u{1f999}\u{1f999} 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 \u1780\u17b6\u1793\u17cb\u178f\u17c2\u1796\u17b7\u179f\u17c1\u179f\u17a2\u17b6\u1785\u{1f601} ?\u6211\u60f3\u5728apple\u5de5\u4f5c1314151\u5929\uff5e ------======= \u043d\u0435\u0449\u043e \u043d\u0430 \u0411\u044a\u043b\u0433\u0430\u0440\u0441\u043a\u0438 ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL";

/** Check hashes (llama.cpp `chkhsh`) of the pre-tokenizers we can reproduce. */
export const KNOWN_CHECK_HASHES: Readonly<Record<string, string>> = {
  // ref: meta-llama/Meta-Llama-3-8B (convert_hf_to_gguf.py)
  "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",
};

/** Both detection signals. */
export interface PreTokenizerSignals {
  /** The name from the pre-tokenizer layout and Split regex, or null. */
  readonly fromRegex: string | null;
  /** llama.cpp's chkhsh, when an encoder was given. */
  readonly checkHash: string | null;
  /** The name {@link KNOWN_CHECK_HASHES} gives `checkHash`, or null. */
  readonly fromHash: string | null;
  /** The verdict: `fromRegex`, else `fromHash`. */
  readonly pre: string | null;
}

/**
 * The pre-tokenizer name from the tokenizer.json layout: "llama-bpe" for
 * `Sequence[Split(Llama-3 regex, Isolated, invert false), ByteLevel(add_prefix_space
 * false, use_regex false)]` with no normalizer; otherwise null.
 *
 * @example
 * ```ts
 * preTokenizerFromRegex({ normalizer: null, pre_tokenizer: { type: "ByteLevel" } }); // null
 * ```
 */
export function preTokenizerFromRegex(tokenizerJson: unknown): string | null {
  if (!isJsonObject(tokenizerJson)) return null;
  if (tokenizerJson.normalizer !== null && tokenizerJson.normalizer !== undefined) return null;
  const pt = tokenizerJson.pre_tokenizer;
  if (!isJsonObject(pt) || pt.type !== "Sequence" || !Array.isArray(pt.pretokenizers)) return null;
  const [split, byteLevel, ...rest] = pt.pretokenizers as unknown[];
  if (rest.length > 0 || !isJsonObject(split) || !isJsonObject(byteLevel)) return null;
  const pattern = split.pattern;
  const splitOk = split.type === "Split" && isJsonObject(pattern) &&
    pattern.Regex === LLAMA3_SPLIT_REGEX && split.behavior === "Isolated" &&
    split.invert !== true;
  const byteLevelOk = byteLevel.type === "ByteLevel" && byteLevel.add_prefix_space !== true &&
    byteLevel.use_regex === false;
  return splitOk && byteLevelOk ? "llama-bpe" : null;
}

/**
 * llama.cpp's check hash: sha256 (hex) of Python `str()` of the id list of
 * {@link LLAMA_CPP_CHKTXT} as `encodeWithBos` encodes it (BOS included, as
 * `tokenizer.encode` does in convert_hf_to_gguf.py).
 *
 * @example
 * ```ts
 * llamaCppCheckHash(() => [1, 2]); // sha256 of "[1, 2]"
 * ```
 */
export function llamaCppCheckHash(encodeWithBos: (text: string) => readonly number[]): string {
  const ids = encodeWithBos(LLAMA_CPP_CHKTXT);
  return createHash("sha256").update(`[${ids.join(", ")}]`, "utf8").digest("hex");
}

/**
 * Both signals. The hash is computed only when `encodeWithBos` is given (it
 * needs a working tokenizer).
 *
 * @example
 * ```ts
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * detectPreTokenizerSignals(json).fromRegex; // "llama-bpe"
 * ```
 */
export function detectPreTokenizerSignals(
  tokenizerJson: unknown,
  encodeWithBos?: (text: string) => readonly number[],
): PreTokenizerSignals {
  const fromRegex = preTokenizerFromRegex(tokenizerJson);
  const checkHash = encodeWithBos ? llamaCppCheckHash(encodeWithBos) : null;
  const fromHash = checkHash === null ? null : KNOWN_CHECK_HASHES[checkHash] ?? null;
  return { fromRegex, checkHash, fromHash, pre: fromRegex ?? fromHash };
}

/**
 * The `tokenizer.ggml.pre` value for a tokenizer.json, or null when not
 * recognized (then the key is not written). The regex decides; the check hash
 * is a fallback when an encoder is given.
 *
 * @example
 * ```ts
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * detectPreTokenizer(json); // "llama-bpe"
 * ```
 */
export function detectPreTokenizer(
  tokenizerJson: unknown,
  encodeWithBos?: (text: string) => readonly number[],
): string | null {
  return detectPreTokenizerSignals(tokenizerJson, encodeWithBos).pre;
}
