/**
 * Which llama.cpp pre-tokenizer (`tokenizer.ggml.pre`) a byte-level BPE
 * `tokenizer.json` uses (docs/reference/tokenizers.md, "Pre-tokenizers"). Two
 * independent signals, as in llama.cpp:
 *
 * - llama.cpp's check hash (convert_hf_to_gguf.py `get_vocab_base_pre`): sha256 of
 *   Python `str()` of the ids of {@link LLAMA_CPP_CHKTXT} encoded with the
 *   post-processor's specials. It names a known vocabulary + pre-tokenizer pair;
 *   it wins when known, because it is what llama.cpp's converter writes.
 * - the pre-tokenizer layout: `Sequence[Split(regex, Isolated), ByteLevel(use_regex:
 *   false)]` with a regex of {@link PRE_TOKENIZERS}. This recognizes a new
 *   vocabulary that uses a known regex.
 *
 * Neither signal: an {@link UnsupportedError} that names the regex. Never a guess.
 *
 * @example
 * ```ts
 * import { resolvePreTokenizer } from "./pretokenizer.ts";
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * resolvePreTokenizer(json, "tokenizer.json"); // "llama-bpe"
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { UnsupportedError } from "../errors.ts";
import { isJsonObject } from "../io/json.ts";

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

/** One pre-tokenizer llama.cpp knows and we reproduce. */
export interface PreTokenizerSpec {
  /** The `tokenizer.ggml.pre` we write (llama.cpp's name). */
  readonly name: string;
  /** Every `tokenizer.ggml.pre` value that means this split (llama.cpp and bitnet.cpp aliases). */
  readonly ggufNames: readonly string[];
  /** The Split regex llama.cpp applies for it (llama-vocab.cpp). */
  readonly splitRegex: string;
  /** Whether a tokenizer.json with this Split regex is this pre-tokenizer without a known hash. */
  readonly matchByRegex: boolean;
  /** llama.cpp check hashes → the Hub repository the hash was taken from. */
  readonly checkHashes: Readonly<Record<string, string>>;
}

/**
 * The pre-tokenizers we support, with the evidence for each (llama.cpp
 * convert_hf_to_gguf.py `get_vocab_base_pre`; llama-vocab.cpp maps llama-bpe,
 * llama3, falcon3 and falcon-h1 to its LLAMA3 pre-tokenizer, i.e. the Llama-3
 * regex with `ignore_merges` and add_bos).
 */
export const PRE_TOKENIZERS: readonly PreTokenizerSpec[] = [
  {
    name: "llama-bpe",
    ggufNames: ["llama-bpe", "llama3", "llama-v3"],
    splitRegex: LLAMA3_SPLIT_REGEX,
    matchByRegex: true,
    checkHashes: {
      "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5":
        "meta-llama/Meta-Llama-3-8B",
    },
  },
  {
    name: "falcon3",
    ggufNames: ["falcon3"],
    splitRegex: LLAMA3_SPLIT_REGEX,
    // Falcon3's own tokenizer.json layout is not on record here: by its hash only.
    matchByRegex: false,
    checkHashes: {
      "9d032fcbd5501f4a38150912590928bfb36091efb5df11b8e2124b0390e3fb1e": "tiiuae/Falcon3-7B-Base",
    },
  },
  {
    // The same hash is "falcon_e" in bitnet.cpp's converter (ref tiiuae/Falcon-E-3B-Instruct);
    // llama.cpp calls it "falcon-h1" and refuses "falcon_e". We write llama.cpp's name.
    name: "falcon-h1",
    ggufNames: ["falcon-h1", "falcon_e"],
    splitRegex: LLAMA3_SPLIT_REGEX,
    matchByRegex: false,
    checkHashes: {
      "a6b57017d60e6edb4d88ecc2845188e0eb333a70357e45dcc9b53964a73bbae6":
        "tiiuae/Falcon-H1-0.5B-Base (llama.cpp); tiiuae/Falcon-E-3B-Instruct (bitnet.cpp)",
    },
  },
];

/** Check hashes (llama.cpp `chkhsh`) → `tokenizer.ggml.pre`. */
export const KNOWN_CHECK_HASHES: Readonly<Record<string, string>> = Object.fromEntries(
  PRE_TOKENIZERS.flatMap((p) => Object.keys(p.checkHashes).map((h) => [h, p.name])),
);

/**
 * The spec a GGUF `tokenizer.ggml.pre` value names, or undefined.
 *
 * @example
 * ```ts
 * preTokenizerSpec("falcon_e")?.name; // "falcon-h1"
 * ```
 */
export function preTokenizerSpec(ggufName: string | null): PreTokenizerSpec | undefined {
  return PRE_TOKENIZERS.find((p) => ggufName !== null && p.ggufNames.includes(ggufName));
}

/** Both detection signals. */
export interface PreTokenizerSignals {
  /** The name from the pre-tokenizer layout and Split regex, or null. */
  readonly fromRegex: string | null;
  /** llama.cpp's chkhsh, when an encoder was given. */
  readonly checkHash: string | null;
  /** The name {@link KNOWN_CHECK_HASHES} gives `checkHash`, or null. */
  readonly fromHash: string | null;
  /** The verdict: `fromHash`, else `fromRegex`. */
  readonly pre: string | null;
}

/** The Split regexes of a pre-tokenizer (itself or the steps of a Sequence), for messages. */
function splitRegexes(preTokenizer: unknown): string[] {
  if (!isJsonObject(preTokenizer)) return [];
  if (preTokenizer.type === "Sequence" && Array.isArray(preTokenizer.pretokenizers)) {
    return (preTokenizer.pretokenizers as unknown[]).flatMap(splitRegexes);
  }
  const pattern = preTokenizer.pattern;
  if (preTokenizer.type !== "Split" || !isJsonObject(pattern)) return [];
  if (typeof pattern.Regex === "string") return [pattern.Regex];
  return typeof pattern.String === "string" ? [pattern.String] : [];
}

/**
 * The pre-tokenizer name from the tokenizer.json layout: a spec's name for
 * `Sequence[Split(its regex, Isolated, invert false), ByteLevel(add_prefix_space
 * false, use_regex false)]` with no normalizer; otherwise null.
 */
function preTokenizerFromRegex(tokenizerJson: unknown): string | null {
  if (!isJsonObject(tokenizerJson)) return null;
  if (tokenizerJson.normalizer !== null && tokenizerJson.normalizer !== undefined) return null;
  const pt = tokenizerJson.pre_tokenizer;
  if (!isJsonObject(pt) || pt.type !== "Sequence" || !Array.isArray(pt.pretokenizers)) return null;
  const [split, byteLevel, ...rest] = pt.pretokenizers as unknown[];
  if (rest.length > 0 || !isJsonObject(split) || !isJsonObject(byteLevel)) return null;
  const pattern = split.pattern;
  const regex = isJsonObject(pattern) ? pattern.Regex : undefined;
  const splitOk = split.type === "Split" && split.behavior === "Isolated" && split.invert !== true;
  const byteLevelOk = byteLevel.type === "ByteLevel" && byteLevel.add_prefix_space !== true &&
    byteLevel.use_regex === false;
  if (!splitOk || !byteLevelOk) return null;
  return PRE_TOKENIZERS.find((p) => p.matchByRegex && p.splitRegex === regex)?.name ?? null;
}

/**
 * llama.cpp's check hash: sha256 (hex) of Python `str()` of the id list of
 * {@link LLAMA_CPP_CHKTXT} as `encodeWithSpecials` encodes it (specials included,
 * as `tokenizer.encode` does in convert_hf_to_gguf.py).
 *
 * @example
 * ```ts
 * llamaCppCheckHash(() => [1, 2]); // sha256 of "[1, 2]"
 * ```
 */
export function llamaCppCheckHash(encodeWithSpecials: (text: string) => readonly number[]): string {
  const ids = encodeWithSpecials(LLAMA_CPP_CHKTXT);
  return createHash("sha256").update(`[${ids.join(", ")}]`, "utf8").digest("hex");
}

/**
 * Both signals. The hash is computed only when `encodeWithSpecials` is given (it
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
  encodeWithSpecials?: (text: string) => readonly number[],
): PreTokenizerSignals {
  const fromRegex = preTokenizerFromRegex(tokenizerJson);
  const checkHash = encodeWithSpecials ? llamaCppCheckHash(encodeWithSpecials) : null;
  const fromHash = checkHash === null ? null : KNOWN_CHECK_HASHES[checkHash] ?? null;
  return { fromRegex, checkHash, fromHash, pre: fromHash ?? fromRegex };
}

/**
 * The `tokenizer.ggml.pre` value ({@link detectPreTokenizerSignals}), or an {@link UnsupportedError} naming the
 * unrecognized Split regex (or layout) and the check hash: llama.cpp would
 * refuse or mis-split such a file, so we never guess.
 *
 * @example
 * ```ts
 * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
 * resolvePreTokenizer(json, "tokenizer.json"); // "llama-bpe"
 * ```
 */
export function resolvePreTokenizer(
  tokenizerJson: unknown,
  source: string,
  encodeWithSpecials?: (text: string) => readonly number[],
): string {
  const signals = detectPreTokenizerSignals(tokenizerJson, encodeWithSpecials);
  if (signals.pre !== null) return signals.pre;
  const pt = isJsonObject(tokenizerJson) ? tokenizerJson.pre_tokenizer : undefined;
  const regexes = splitRegexes(pt);
  const what = regexes.length > 0
    ? `Split regex ${regexes.map((r) => JSON.stringify(r)).join(", ")}`
    : `pre_tokenizer ${JSON.stringify(pt ?? null).slice(0, 300)}`;
  const normalizer = isJsonObject(tokenizerJson) ? tokenizerJson.normalizer : undefined;
  throw new UnsupportedError(
    `${source}: unknown BPE pre-tokenizer: ${what}` +
      (normalizer ? ` with normalizer ${JSON.stringify(normalizer).slice(0, 200)}` : "") +
      (signals.checkHash ? ` (llama.cpp check hash ${signals.checkHash})` : "") +
      `; supported: ${PRE_TOKENIZERS.map((p) => p.name).join(", ")}` +
      ` (docs/reference/tokenizers.md)`,
  );
}

/**
 * llama.cpp's add_bos default when a GGUF has no `add_bos_token`: true for
 * SentencePiece ("llama") and for the pre-tokenizers it maps to its Llama-3 split.
 *
 * @example
 * ```ts
 * defaultAddBos("llama", "default"); // true
 * defaultAddBos("gpt2", "falcon3"); // true
 * ```
 */
export function defaultAddBos(model: string, pre: string | null): boolean {
  return model === "llama" || preTokenizerSpec(pre) !== undefined;
}
