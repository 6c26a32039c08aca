/**
 * Text ↔ token ids for BPE models (byte-level, and SentencePiece with byte
 * fallback), on `@huggingface/tokenizers` (`HfTokenizer`), from a tokenizer.json
 * or from GGUF tokenizer metadata (docs/reference/tokenizers.md).
 *
 * Encoding never runs the tokenizer.json post-processor: the BOS is prepended
 * here when `addBos` asks for it, so both sources behave the same way (llama.cpp's
 * `add_bos_token` semantics). Decoding is raw: no `clean_up_tokenization_spaces`,
 * so `decode(encode(x)) === x`.
 *
 * @example
 * ```ts
 * import { TextTokenizer } from "./tokenizer.ts";
 * const tok = await TextTokenizer.load({ tokenizerJsonPath: "fixtures/tiny-bitnet/tokenizer.json" });
 * tok.encode("The capital of France is"); // [2046, 463, 275, 272, 941, 264]
 * tok.decode([463, 275]); // "The capital"
 * ```
 * @module
 */

import { HfTokenizer } from "../../deps.ts";
import { FormatError, InputError, TokenizerMismatchError, UnsupportedError } from "../errors.ts";
import { TokenType } from "../gguf/keys.ts";
import type { GgufFile } from "../gguf/reader.ts";
import {
  readTokenizerMetadata,
  tokenizerJsonVocabSize,
  type TokenizerMetadata,
  tokenizerMetadataFromJson,
  type TokenizerMetadataOptions,
} from "./metadata.ts";
import { PRE_TOKENIZERS, preTokenizerSpec } from "./pretokenizer.ts";
import {
  sentencePieceBytes,
  sentencePieceNormalizer,
  sentencePieceTokenizerJson,
} from "./sentencepiece.ts";
import { addedTokenJson, tokenizerFlavour } from "./tokenizer_json.ts";
import { isJsonObject, type JsonObject, readJsonFile, readJsonIfExists } from "../io/json.ts";

/** GPT-2's byte → printable character table (`bytes_to_unicode`): the character of each byte. */
const BYTE_TO_UNICODE: readonly string[] = (() => {
  const chars: string[] = [];
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
    chars.push(String.fromCodePoint(printable ? b : 256 + shifted++));
  }
  return chars;
})();

/** {@link BYTE_TO_UNICODE} inverted. */
const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(
  BYTE_TO_UNICODE.map((ch, b) => [ch, b]),
);

/** A merge's two parts joined, split as the library splits it (`split(" ", 2)`). */
function joinedMerge(merge: string): string {
  const a = merge.indexOf(" ");
  if (a < 0) return merge;
  const b = merge.indexOf(" ", a + 1);
  return merge.slice(0, a) + merge.slice(a + 1, b < 0 ? merge.length : b);
}

/**
 * Byte-level BPE metadata cut down to what encoding `texts` can use, for a
 * tokenizer that encodes only those texts (validate's gate 3 encodes two):
 * building `@huggingface/tokenizers`' maps of a 128k vocabulary and 280k merges
 * takes about a second of a core, these few hundred entries almost nothing.
 *
 * The ids of `texts` are exactly the full tokenizer's. Byte-level BPE splits
 * off the added tokens, pre-tokenizes the rest into words (each a run of the
 * text, so its byte-level string is a substring of the text's) and merges
 * adjacent pieces of a word by rank; every piece, every merged pair and every
 * whole word looked up is a substring of some text's byte-level string. So the
 * kept entries are: every token that is such a substring (the others' strings
 * become a filler no text contains; ids, types and the vocabulary size are
 * unchanged), the added tokens, and every merge whose two parts joined are
 * such a substring, in their order (BPE compares ranks only with each other).
 * Any other text may encode differently; decode with the full tokenizer.
 * Metadata of another model (SentencePiece) is returned as is.
 *
 * @example
 * ```ts
 * import type { TokenizerMetadata } from "./metadata.ts";
 * declare const meta: TokenizerMetadata;
 * const texts = ["The capital of France is"];
 * const tok = TextTokenizer.fromMetadata(encodingSubset(meta, texts));
 * tok.encode(texts[0]!); // the ids TextTokenizer.fromMetadata(meta) gives it
 * ```
 */
export function encodingSubset(
  meta: TokenizerMetadata,
  texts: readonly string[],
): TokenizerMetadata {
  if (meta.model !== "gpt2") return meta;
  const bytes = new TextEncoder();
  const levels = texts.map((t) => Array.from(bytes.encode(t), (b) => BYTE_TO_UNICODE[b]!).join(""));
  const occurs = (s: string) => levels.some((level) => level.includes(s));
  const merges = meta.merges.filter((m) => occurs(joinedMerge(m)));
  return { ...meta, tokens: keptTokens(meta, occurs), merges };
}

/**
 * The vocabulary of `meta` with the added (control and user-defined) tokens
 * and those `keep` accepts as they are, every other token's string replaced by
 * one filler that is no token and that no text contains: the same ids, types
 * and size, for a tokenizer that builds only what it needs (see
 * {@link encodingSubset}; validate's main thread decoder keeps the ids it decodes).
 *
 * @example
 * ```ts
 * import type { TokenizerMetadata } from "./metadata.ts";
 * declare const meta: TokenizerMetadata;
 * keptTokens(meta, (token) => token === "Ġcapital"); // "Ġcapital", the added tokens, fillers
 * ```
 */
export function keptTokens(meta: TokenizerMetadata, keep: (token: string) => boolean): string[] {
  let filler = "\u0000";
  while (meta.tokens.includes(filler)) filler += "\u0000";
  return meta.tokens.map((token, id) => {
    const type = meta.tokenTypes[id];
    const added = type === TokenType.CONTROL || type === TokenType.USER_DEFINED;
    return added || keep(token) ? token : filler;
  });
}

/**
 * Options of {@link TextTokenizer.fromJson}: those of `tokenizerMetadataFromJson`,
 * each optional (without `vocabSize`, the vocabulary is one past the largest id).
 */
export type FromJsonOptions = Partial<
  Pick<TokenizerMetadataOptions, "source" | "vocabSize" | "bosId" | "eosId">
>;

/**
 * The tokenizer.json that {@link TextTokenizer.fromMetadata} gives
 * `HfTokenizer`. SentencePiece ("llama"): see `sentencePieceTokenizerJson`.
 * Byte-level BPE ("gpt2"): the pre-tokenizer's split regex + ByteLevel,
 * `ignore_merges`, control and user-defined tokens as added tokens, BOS as a
 * TemplateProcessing post-processor when `addBos`.
 */
function tokenizerJsonFromMetadata(meta: TokenizerMetadata, source = "GGUF"): object {
  if (meta.model === "llama" && meta.scores !== null) {
    return sentencePieceTokenizerJson({
      tokens: meta.tokens,
      scores: meta.scores,
      tokenTypes: meta.tokenTypes,
      unkId: meta.unkId,
      addSpacePrefix: meta.addSpacePrefix ?? true,
    });
  }
  if (meta.model !== "gpt2") {
    throw new UnsupportedError(
      `${source}: tokenizer model "${meta.model}" is not supported (gpt2 and llama are)`,
    );
  }
  const spec = preTokenizerSpec(meta.pre);
  if (!spec) {
    throw new UnsupportedError(
      `${source}: pre-tokenizer ${JSON.stringify(meta.pre)} is not supported (${
        PRE_TOKENIZERS.flatMap((p) => p.ggufNames).join(", ")
      } are)`,
    );
  }
  return byteLevelTokenizerJson(meta, spec.splitRegex);
}

/** The byte-level BPE tokenizer.json of {@link tokenizerJsonFromMetadata}. */
function byteLevelTokenizerJson(meta: TokenizerMetadata, splitRegex: string): object {
  const vocab: Record<string, number> = {};
  const added: object[] = [];
  for (const [id, token] of meta.tokens.entries()) {
    const type = meta.tokenTypes[id];
    if (type === TokenType.CONTROL || type === TokenType.USER_DEFINED) {
      const user = type === TokenType.USER_DEFINED;
      added.push(addedTokenJson(id, token, { normalized: user, special: !user }));
    } else {
      vocab[token] = id;
    }
  }
  let postProcessor: object | null = null;
  if (meta.addBos && meta.bosId !== null) {
    const bos = meta.tokens[meta.bosId]!;
    postProcessor = {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [meta.bosId], tokens: [bos] } },
    };
  }
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        {
          type: "Split",
          pattern: { Regex: splitRegex },
          behavior: "Isolated",
          invert: false,
        },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: postProcessor,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges: meta.merges,
    },
  };
}

/**
 * The tokenizer.json given to `HfTokenizer`: as is for byte-level BPE; for a
 * SentencePiece one, with SentencePiece's own normalization (a ▁ prefix on every
 * text, as llama.cpp does) instead of a Metaspace pre-tokenizer's.
 */
function hfTokenizerJson(tokenizerJson: unknown): object {
  const json = tokenizerJson as JsonObject;
  const flavour = tokenizerFlavour(json, "tokenizer.json");
  if (flavour.kind === "byte-level") return json;
  return {
    ...json,
    normalizer: sentencePieceNormalizer(flavour.addSpacePrefix),
    pre_tokenizer: null,
  };
}

/**
 * Encodes and decodes text for one BPE vocabulary.
 *
 * @example
 * ```ts
 * const tok = await TextTokenizer.load({ tokenizerJsonPath: "fixtures/tiny-bitnet/tokenizer.json" });
 * tok.decode(tok.encode("Once upon a time", { addBos: false })); // "Once upon a time"
 * ```
 */
export class TextTokenizer {
  /** The GGUF-shaped description of this tokenizer. */
  readonly metadata: TokenizerMetadata;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly addBos: boolean;
  #hf: HfTokenizer;

  private constructor(hf: HfTokenizer, meta: TokenizerMetadata) {
    this.#hf = hf;
    this.metadata = meta;
    this.vocabSize = meta.tokens.length;
    this.bosId = meta.bosId;
    this.eosId = meta.eosId;
    this.addBos = meta.addBos;
  }

  /**
   * From a parsed tokenizer.json (and tokenizer_config.json). Without
   * `opts.vocabSize`, the vocabulary is one past the largest id.
   *
   * @example
   * ```ts
   * const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
   * TextTokenizer.fromJson(json).encode("Once upon a time"); // [2046, 378, 376, 260, 373]
   * ```
   */
  static fromJson(
    tokenizerJson: unknown,
    tokenizerConfig?: unknown,
    opts: FromJsonOptions = {},
  ): TextTokenizer {
    const source = opts.source ?? "tokenizer.json";
    // Built once the json is known to be supported; the check hash needs it too.
    let hf: HfTokenizer | undefined;
    const tokenizer = () =>
      hf ??= new HfTokenizer(
        hfTokenizerJson(tokenizerJson),
        isJsonObject(tokenizerConfig) ? tokenizerConfig : {},
      );
    const meta = tokenizerMetadataFromJson(tokenizerJson, {
      vocabSize: opts.vocabSize ?? tokenizerJsonVocabSize(tokenizerJson, source),
      bosId: opts.bosId ?? null,
      eosId: opts.eosId ?? null,
      tokenizerConfig,
      source,
      encodeWithSpecials: (text) => tokenizer().encode(text, { add_special_tokens: true }).ids,
    });
    return new TextTokenizer(tokenizer(), meta);
  }

  /**
   * From GGUF tokenizer metadata: model "gpt2" with a known pre-tokenizer, or
   * "llama" (SentencePiece, merges derived from the scores).
   *
   * @example
   * ```ts
   * import { openGguf } from "../gguf/reader.ts";
   * import { readTokenizerMetadata } from "./metadata.ts";
   * const g = await openGguf("models/clean/clean-f16.gguf");
   * const tok = TextTokenizer.fromMetadata(readTokenizerMetadata(g));
   * ```
   */
  static fromMetadata(meta: TokenizerMetadata, source = "GGUF"): TextTokenizer {
    if (meta.tokenTypes.length !== meta.tokens.length) {
      throw new FormatError(
        `${source}: ${meta.tokens.length} tokens but ${meta.tokenTypes.length} token types`,
      );
    }
    const hf = new HfTokenizer(tokenizerJsonFromMetadata(meta, source), {});
    return new TextTokenizer(hf, meta);
  }

  /**
   * Loads from a tokenizer.json path (its sibling tokenizer_config.json is read
   * when present), a GGUF, or both. tokenizer.json wins; with both, any
   * disagreement (vocabulary size, a token string, merges, BOS/EOS ids) is a
   * {@link TokenizerMismatchError}, and BOS/EOS ids missing from the json side
   * are taken from the GGUF.
   *
   * @example
   * ```ts
   * const tok = await TextTokenizer.load({ tokenizerJsonPath: "fixtures/tiny-bitnet/tokenizer.json" });
   * ```
   */
  static async load(
    opts: { tokenizerJsonPath?: string; tokenizerConfigPath?: string; gguf?: GgufFile },
  ): Promise<TextTokenizer> {
    const { tokenizerJsonPath, gguf } = opts;
    if (tokenizerJsonPath === undefined) {
      if (!gguf) throw new InputError("no tokenizer: give a tokenizer.json path or a GGUF file");
      return TextTokenizer.fromMetadata(readTokenizerMetadata(gguf), gguf.path);
    }
    const json = await readJsonFile(tokenizerJsonPath);
    const configPath = opts.tokenizerConfigPath ??
      tokenizerJsonPath.replace(/[^/\\]*$/, "tokenizer_config.json");
    // A tokenizer_config.json named by the caller must exist; the one beside tokenizer.json may not.
    const config = opts.tokenizerConfigPath !== undefined
      ? await readJsonFile(configPath)
      : await readJsonIfExists(configPath);
    if (!gguf) return TextTokenizer.fromJson(json, config, { source: tokenizerJsonPath });

    const ggufMeta = readTokenizerMetadata(gguf);
    const jsonSize = tokenizerJsonVocabSize(json, tokenizerJsonPath);
    if (jsonSize > ggufMeta.tokens.length) {
      throw new TokenizerMismatchError(
        `${tokenizerJsonPath} has ${jsonSize} tokens but ${gguf.path} has ${ggufMeta.tokens.length}`,
      );
    }
    const fromJson = TextTokenizer.fromJson(json, config, {
      source: tokenizerJsonPath,
      vocabSize: ggufMeta.tokens.length,
    });
    checkTokenizerAgreement(
      fromJson.metadata,
      ggufMeta,
      `${tokenizerJsonPath} vs ${gguf.path}`,
    );
    const meta: TokenizerMetadata = {
      ...fromJson.metadata,
      bosId: fromJson.bosId ?? ggufMeta.bosId,
      eosId: fromJson.eosId ?? ggufMeta.eosId,
    };
    return new TextTokenizer(fromJson.#hf, meta);
  }

  /**
   * Token ids of `text`; the BOS is prepended when `addBos` (default
   * `this.addBos`) and the vocabulary has one. Special-token text such as
   * `<|begin_of_text|>` inside `text` becomes that token.
   *
   * @example
   * ```ts
   * declare const tok: TextTokenizer;
   * tok.encode("Hello world", { addBos: false }); // [9906, 1917] with Llama-3
   * ```
   */
  encode(text: string, opts: { addBos?: boolean } = {}): number[] {
    const ids = text.length === 0 ? [] : this.#hf.encode(text, { add_special_tokens: false }).ids;
    for (const [i, id] of ids.entries()) {
      if (id === undefined) {
        throw new FormatError(
          `tokenizer: piece ${i} of ${JSON.stringify(text.slice(0, 40))} has no token id`,
        );
      }
    }
    const addBos = opts.addBos ?? this.addBos;
    return addBos && this.bosId !== null ? [this.bosId, ...ids] : ids;
  }

  /**
   * Text of `ids`. Special tokens appear as their text unless `skipSpecial`;
   * unused `[PAD{i}]` ids decode to nothing (as in llama.cpp). Incomplete
   * UTF-8 sequences become U+FFFD: use {@link TextTokenizer.tokenBytes} to
   * stream.
   *
   * @example
   * ```ts
   * declare const tok: TextTokenizer;
   * tok.decode([9906, 1917]); // "Hello world" with Llama-3
   * ```
   */
  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    const kept: number[] = [];
    for (const id of ids) {
      this.#checkId(id);
      if (this.metadata.tokenTypes[id] !== TokenType.UNUSED) kept.push(id);
    }
    if (kept.length === 0) return "";
    return this.#hf.decode(kept, {
      skip_special_tokens: opts.skipSpecial ?? false,
      clean_up_tokenization_spaces: false,
    });
  }

  /**
   * The token's string as stored in the vocabulary (byte-level "Ġcapital",
   * SentencePiece "▁capital").
   *
   * @example
   * ```ts
   * declare const tok: TextTokenizer;
   * tok.tokenString(6864); // "Ġcapital" with Llama-3
   * ```
   */
  tokenString(id: number): string {
    this.#checkId(id);
    return this.metadata.tokens[id]!;
  }

  /**
   * The raw bytes a token stands for: byte-level tokens mapped back through
   * GPT-2's byte table, SentencePiece pieces with ▁ as a space and `<0xXX>` as
   * that byte; control and user-defined tokens as their UTF-8 text; unused
   * tokens as no bytes.
   *
   * @example
   * ```ts
   * declare const tok: TextTokenizer;
   * tok.tokenBytes(6864); // bytes of " capital" with Llama-3
   * ```
   */
  tokenBytes(id: number): Uint8Array {
    const token = this.tokenString(id);
    const type = this.metadata.tokenTypes[id];
    if (type === TokenType.UNUSED) return new Uint8Array(0);
    if (type === TokenType.CONTROL || type === TokenType.USER_DEFINED) {
      return new TextEncoder().encode(token);
    }
    if (this.metadata.model === "llama") return sentencePieceBytes(token, type);
    const out: number[] = [];
    for (const ch of token) {
      const b = UNICODE_TO_BYTE.get(ch);
      if (b === undefined) {
        throw new FormatError(
          `tokenizer: token ${id} ${
            JSON.stringify(token)
          } has a character outside the byte-level alphabet`,
        );
      }
      out.push(b);
    }
    return Uint8Array.from(out);
  }

  #checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
  }
}

/**
 * Throws {@link TokenizerMismatchError} when a tokenizer.json and a GGUF
 * describe different tokenizers: model, vocabulary size, any token string, the
 * merges, or BOS/EOS ids (when both sides have one). `where` names both files.
 *
 * @example
 * ```ts
 * import type { TokenizerMetadata } from "./metadata.ts";
 * declare const jsonMeta: TokenizerMetadata, ggufMeta: TokenizerMetadata;
 * checkTokenizerAgreement(jsonMeta, ggufMeta, "tokenizer.json vs model.gguf");
 * ```
 */
export function checkTokenizerAgreement(
  json: TokenizerMetadata,
  gguf: TokenizerMetadata,
  where: string,
): void {
  if (json.model !== gguf.model) {
    throw new TokenizerMismatchError(
      `${where}: tokenizer.json is a "${json.model}" tokenizer, the GGUF a "${gguf.model}" one`,
    );
  }
  for (const [plural, one] of [["tokens", "token"], ["merges", "merge"]] as const) {
    const [a, b] = [json[plural], gguf[plural]];
    if (a.length !== b.length) {
      throw new TokenizerMismatchError(
        `${where}: tokenizer.json has ${a.length} ${plural}, the GGUF ${b.length}`,
      );
    }
    const i = a.findIndex((x, i) => x !== b[i]);
    if (i >= 0) {
      const [x, y] = [JSON.stringify(a[i]), JSON.stringify(b[i])];
      throw new TokenizerMismatchError(
        `${where}: ${one} ${i} is ${x} in tokenizer.json but ${y} in the GGUF`,
      );
    }
  }
  const ids = [["BOS", json.bosId, gguf.bosId], ["EOS", json.eosId, gguf.eosId]] as const;
  for (const [what, a, b] of ids) {
    if (a !== null && b !== null && a !== b) {
      throw new TokenizerMismatchError(
        `${where}: ${what} id is ${a} in tokenizer.json but ${b} in the GGUF`,
      );
    }
  }
}
