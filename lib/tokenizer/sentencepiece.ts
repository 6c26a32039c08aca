/**
 * SentencePiece BPE (Llama-2 style) tokenizers in both directions
 * (docs/reference/tokenizers.md, "SentencePiece scores"):
 *
 * - tokenizer.json → GGUF: token types and scores as SentencePiece's
 *   `tokenizer.model` holds them, which llama.cpp's `_set_vocab_sentencepiece`
 *   copies. tokenizer.json has no scores, so they are rebuilt from what it does
 *   hold: SentencePiece's BPE trainer scores the k-th trained piece -k (ids in
 *   score order), and transformers' converter lists the merges sorted by the
 *   merged piece's score, so a piece whose merges come after those of pieces
 *   with larger ids was scored below every trained piece (Llama-2's whitespace
 *   runs, -1e9). llama.cpp's own tokenizer.json fallback (gguf-py `LlamaHfVocab`)
 *   writes a placeholder -1000 for every score instead, which makes its SPM
 *   tokenizer merge left to right.
 * - GGUF → `@huggingface/tokenizers`: a BPE with byte fallback whose merges are
 *   derived from the scores as transformers' `SentencePieceExtractor` does.
 *
 * @example
 * ```ts
 * import { sentencePieceMerges } from "./sentencepiece.ts";
 * sentencePieceMerges(["a", "b", "ab"], [-1, -2, -3], [1, 1, 1]); // ["a b"]
 * ```
 * @module
 */

import { TokenType } from "../gguf/keys.ts";
import { addedTokenJson, type ParsedTokenizerJson, SPM_SPACE } from "./tokenizer_json.ts";

/** The score of pieces that merge after every trained piece (Llama-2's, and SentencePiece's "never first"). */
export const SPM_LAST_SCORE = -1e9;
/** Score llama.cpp's converter gives added tokens (tokenizer_config / added_tokens.json). */
export const SPM_ADDED_SCORE = -1000;
/** Score llama.cpp's converter gives the `[PAD{i}]` fillers of ids with no token. */
export const SPM_UNUSED_SCORE = -10000;

const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;

/** Where each id of the GGUF vocabulary comes from in tokenizer.json. */
export interface TokenSources {
  /** Token strings by id, `[PAD{i}]` for ids with no token. */
  readonly tokens: readonly string[];
  /** `model.vocab` has the id. */
  readonly inVocab: readonly boolean[];
  /** For ids in `added_tokens`: whether the token is special (or looks special to llama.cpp). */
  readonly addedSpecial: ReadonlyMap<number, boolean>;
}

/**
 * Token types (i32 {@link TokenType}) and scores of a SentencePiece tokenizer.json,
 * as llama.cpp's converter writes them from the `tokenizer.model` it came from:
 * `unk_token` UNKNOWN, special pieces CONTROL, `<0xXX>` BYTE (all score 0), other
 * added pieces of the model USER_DEFINED (0), trained pieces NORMAL with
 * {@link trainedPieceScores}; added tokens outside `model.vocab` CONTROL or
 * USER_DEFINED with -1000; ids with no token UNUSED with -10000.
 *
 * @example
 * ```ts
 * sentencePieceTypesAndScores(
 *   { tokens: ["<unk>", "a", "b", "ab"], inVocab: [true, true, true, true],
 *     addedSpecial: new Map([[0, true]]) },
 *   { unkToken: "<unk>", byteFallback: true, merges: ["a b"] },
 * ); // { tokenTypes: [2, 1, 1, 1], scores: [0, -0, -1, -2] }
 * ```
 */
export function sentencePieceTypesAndScores(
  src: TokenSources,
  parsed: Pick<ParsedTokenizerJson, "unkToken" | "byteFallback" | "merges">,
): { tokenTypes: number[]; scores: number[] } {
  const n = src.tokens.length;
  const tokenTypes: number[] = new Array(n);
  const scores: number[] = new Array(n).fill(0);
  for (let id = 0; id < n; id++) {
    const token = src.tokens[id]!;
    const special = src.addedSpecial.get(id);
    if (!src.inVocab[id]) {
      const added = special !== undefined;
      tokenTypes[id] = !added
        ? TokenType.UNUSED
        : special
        ? TokenType.CONTROL
        : TokenType.USER_DEFINED;
      scores[id] = added ? SPM_ADDED_SCORE : SPM_UNUSED_SCORE;
    } else if (token === parsed.unkToken) {
      tokenTypes[id] = TokenType.UNKNOWN;
    } else if (special !== undefined) {
      tokenTypes[id] = special ? TokenType.CONTROL : TokenType.USER_DEFINED;
    } else if (parsed.byteFallback && BYTE_PIECE.test(token)) {
      tokenTypes[id] = TokenType.BYTE;
    } else {
      tokenTypes[id] = TokenType.NORMAL;
    }
  }
  const trained = trainedPieceScores(src.tokens, tokenTypes, parsed.merges);
  for (const [id, score] of trained) scores[id] = score;
  return { tokenTypes, scores };
}

/**
 * Scores of the NORMAL pieces: the k-th (in id order) scores -k, as SentencePiece's
 * BPE trainer numbers them, except pieces whose first merge comes after the first
 * merge of some piece with a larger id: those were scored below every trained
 * piece, and get {@link SPM_LAST_SCORE}. (Only sentencePieceTypesAndScores needs it.)
 */
function trainedPieceScores(
  tokens: readonly string[],
  tokenTypes: readonly number[],
  merges: readonly string[],
): Map<number, number> {
  const firstRank = new Map<string, number>();
  merges.forEach((m, rank) => {
    const piece = m.replace(" ", "");
    if (!firstRank.has(piece)) firstRank.set(piece, rank);
  });
  const normal: number[] = [];
  for (let id = 0; id < tokens.length; id++) {
    if (tokenTypes[id] === TokenType.NORMAL) normal.push(id);
  }
  // Smallest first-merge rank among the normal pieces after each one.
  const minRankAfter: number[] = new Array(normal.length);
  let min = Infinity;
  for (let i = normal.length - 1; i >= 0; i--) {
    minRankAfter[i] = min;
    min = Math.min(min, firstRank.get(tokens[normal[i]!]!) ?? Infinity);
  }
  const scores = new Map<number, number>();
  normal.forEach((id, k) => {
    const rank = firstRank.get(tokens[id]!);
    const demoted = rank !== undefined && rank > minRankAfter[k]!;
    scores.set(id, demoted ? SPM_LAST_SCORE : -k);
  });
  return scores;
}

/**
 * BPE merges that make `@huggingface/tokenizers` merge in SentencePiece's score
 * order, as transformers' `SentencePieceExtractor` derives them: every split of a
 * NORMAL or USER_DEFINED piece into two such pieces, ordered by the merged piece's
 * score (highest first), then by the merged piece's id, then by the ids of the
 * left and right parts.
 *
 * @example
 * ```ts
 * sentencePieceMerges(["▁", "t", "▁t", "h", "▁th"], [-1, -2, -3, -4, -5], [1, 1, 1, 1, 1]);
 * // ["▁ t", "▁t h"]
 * ```
 */
export function sentencePieceMerges(
  tokens: readonly string[],
  scores: readonly number[],
  tokenTypes: readonly number[],
): string[] {
  const ids = new Map<string, number>();
  tokens.forEach((t, id) => {
    const type = tokenTypes[id];
    if ((type === TokenType.NORMAL || type === TokenType.USER_DEFINED) && !ids.has(t)) {
      ids.set(t, id);
    }
  });
  const found: Array<{ id: number; left: number; right: number; merge: string }> = [];
  for (const [piece, id] of ids) {
    const chars = Array.from(piece);
    for (let i = 1; i < chars.length; i++) {
      const l = chars.slice(0, i).join(""), r = chars.slice(i).join("");
      const left = ids.get(l), right = ids.get(r);
      if (left !== undefined && right !== undefined) {
        found.push({ id, left, right, merge: `${l} ${r}` });
      }
    }
  }
  found.sort((a, b) =>
    scores[b.id]! - scores[a.id]! || a.id - b.id || a.left - b.left || a.right - b.right
  );
  return found.map((f) => f.merge);
}

/** What {@link sentencePieceTokenizerJson} needs of GGUF tokenizer metadata. */
export interface SentencePieceVocab {
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  readonly tokenTypes: readonly number[];
  readonly unkId: number | null;
  readonly addSpacePrefix: boolean;
}

/**
 * The tokenizer.json that gives `@huggingface/tokenizers` llama.cpp's SPM
 * behaviour for a GGUF vocabulary: ▁ for spaces (and one prepended when
 * `addSpacePrefix`), BPE with byte fallback over merges from
 * {@link sentencePieceMerges}, control and user-defined tokens as added tokens,
 * no post-processor (the caller adds the BOS).
 *
 * @example
 * ```ts
 * const json = sentencePieceTokenizerJson({
 *   tokens: ["<unk>", "▁", "a", "▁a"], scores: [0, -1, -2, -3], tokenTypes: [2, 1, 1, 1],
 *   unkId: 0, addSpacePrefix: true,
 * }); // model: { type: "BPE", byte_fallback: true, merges: ["▁ a"], ... }
 * ```
 */
export function sentencePieceTokenizerJson(v: SentencePieceVocab): object {
  const vocab: Record<string, number> = {};
  const added: object[] = [];
  for (const [id, token] of v.tokens.entries()) {
    const type = v.tokenTypes[id];
    if (type === TokenType.UNUSED) continue;
    if (!(token in vocab)) vocab[token] = id;
    if (
      type === TokenType.CONTROL || type === TokenType.USER_DEFINED || type === TokenType.UNKNOWN
    ) {
      added.push(
        addedTokenJson(id, token, { normalized: false, special: type !== TokenType.USER_DEFINED }),
      );
    }
  }
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: sentencePieceNormalizer(v.addSpacePrefix),
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: SPM_SPACE }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        ...(v.addSpacePrefix ? [{ type: "Strip", content: " ", start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: v.unkId === null ? null : v.tokens[v.unkId],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: sentencePieceMerges(v.tokens, v.scores, v.tokenTypes),
    },
  };
}

/**
 * The normalizer that does what SentencePiece (and llama.cpp) do before BPE:
 * spaces become ▁, and with `addSpacePrefix` one ▁ is prepended to every text,
 * even one that starts with a space. (A Metaspace pre-tokenizer with
 * `prepend_scheme: "first"` skips the prefix then, unlike SentencePiece.)
 *
 * @example
 * ```ts
 * sentencePieceNormalizer(false); // { type: "Replace", pattern: { String: " " }, content: "▁" }
 * ```
 */
export function sentencePieceNormalizer(addSpacePrefix: boolean): object {
  const toMarker = { type: "Replace", pattern: { String: " " }, content: SPM_SPACE };
  return addSpacePrefix
    ? { type: "Sequence", normalizers: [{ type: "Prepend", prepend: SPM_SPACE }, toMarker] }
    : toMarker;
}

/**
 * The raw bytes of a SentencePiece piece: `<0xXX>` byte pieces are that byte,
 * other pieces their UTF-8 text with ▁ as a space.
 *
 * @example
 * ```ts
 * sentencePieceBytes("<0x0A>", 6); // Uint8Array [10]
 * sentencePieceBytes("▁the", 1); // bytes of " the"
 * ```
 */
export function sentencePieceBytes(piece: string, type: number | undefined): Uint8Array {
  if (type === TokenType.BYTE && BYTE_PIECE.test(piece)) {
    return Uint8Array.of(parseInt(piece.slice(3, 5), 16));
  }
  return new TextEncoder().encode(piece.replaceAll(SPM_SPACE, " "));
}
