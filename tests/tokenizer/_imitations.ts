/**
 * Test helper: small imitations of the tokenizers the model families ship, for
 * export tests that need a tokenizer of the right kind without a 2–9 MB file.
 *
 * - {@link writeLlama2SpmTokenizer}: a Llama-2 SentencePiece tokenizer.json +
 *   tokenizer_config.json (1bitLLM bitnet_b1_58-large/-3B), a subset of the real
 *   Llama-2 vocabulary in tests/tokenizer/vectors/llama-spm, laid out exactly as
 *   transformers' LlamaConverter writes it.
 * - Llama-3 BPE (2B-4T, HF1BitLLM): the bundled fixture's tokenizer.json
 *   (fixtures/tiny-bitnet) already is one: Llama-3 split regex + ByteLevel, 2048
 *   tokens, exported as `tokenizer.ggml.pre = "llama-bpe"`.
 * - Falcon3 / Falcon-E: byte-level BPE that llama.cpp identifies by its check hash
 *   only ("falcon3", "falcon-h1"). A hash needs the real vocabulary (131,072
 *   tokens), so no small imitation can carry it: imitate Falcon3 with the
 *   fixture's tokenizer (same flavour; llama.cpp runs "falcon3", "falcon-h1" and
 *   "llama-bpe" with the same Llama-3 split), which exports as "llama-bpe". A
 *   tokenizer.json with any other Split regex is refused (UnsupportedError, exit 5).
 *
 * @module
 */

const SPM_DIR = new URL("./vectors/llama-spm/", import.meta.url);

/** What {@link writeLlama2SpmTokenizer} wrote. */
export interface Llama2SpmImitation {
  /** The tokenizer's size: config.json `vocab_size` must be at least this. */
  vocabSize: number;
  bosId: number;
  eosId: number;
  unkId: number;
  /** Ids of the extra added tokens, in the order given. */
  addedIds: number[];
  /** The kept Llama-2 pieces, by new id. */
  tokens: string[];
}

/** Options of {@link writeLlama2SpmTokenizer}. */
export interface Llama2SpmOptions {
  /** How many trained Llama-2 pieces to keep (ids 259…), plus the characters they need. Default 600. */
  pieces?: number;
  /** Extra added tokens after the vocabulary (e.g. a pad token), as 1bitLLM's "+ added tokens". */
  addedTokens?: Array<{ content: string; special: boolean }>;
  /** tokenizer_config.json `chat_template`, if any. */
  chatTemplate?: string;
}

/**
 * Writes `dir/tokenizer.json` and `dir/tokenizer_config.json`: `<unk>`, `<s>`,
 * `</s>`, the 256 byte pieces, the first `pieces` trained pieces of Llama-2 and
 * every single character they are made of, renumbered in Llama-2's order (so
 * SentencePiece's score order is kept), with Llama-2's merges among them in
 * their order; then `addedTokens`. BOS 1, EOS 2, UNK 0, add_bos true, add_eos false.
 */
export async function writeLlama2SpmTokenizer(
  dir: string,
  opts: Llama2SpmOptions = {},
): Promise<Llama2SpmImitation> {
  const source = JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", SPM_DIR)));
  const config = JSON.parse(await Deno.readTextFile(new URL("tokenizer_config.json", SPM_DIR)));
  const byId: string[] = [];
  for (const [t, id] of Object.entries(source.model.vocab as Record<string, number>)) byId[id] = t;
  const trainedEnd = 259 + (opts.pieces ?? 600);
  const chars = new Set(byId.slice(259, trainedEnd).flatMap((t) => Array.from(t)));
  const keptOld = byId
    .map((t, id) => [t, id] as const)
    .filter(([t, id]) => id < trainedEnd || (Array.from(t).length === 1 && chars.has(t)));
  const vocab: Record<string, number> = {};
  keptOld.forEach(([t], newId) => (vocab[t] = newId));
  const merges = (source.model.merges as Array<string | string[]>)
    .map((m) => (Array.isArray(m) ? m : m.split(" ")) as [string, string])
    .filter(([l, r]) => l in vocab && r in vocab && l + r in vocab)
    .map(([l, r]) => `${l} ${r}`);
  const n = keptOld.length;
  const added = [
    ...source.added_tokens,
    ...(opts.addedTokens ?? []).map((t, i) => ({
      id: n + i,
      content: t.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: t.special,
    })),
  ];
  const json = { ...source, added_tokens: added, model: { ...source.model, vocab, merges } };
  const decoder = { ...config.added_tokens_decoder };
  for (const t of added.slice(3)) decoder[String(t.id)] = { ...t, id: undefined };
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
  await Deno.writeTextFile(
    `${dir}/tokenizer_config.json`,
    JSON.stringify({
      ...config,
      added_tokens_decoder: decoder,
      ...(opts.chatTemplate ? { chat_template: opts.chatTemplate } : {}),
    }),
  );
  return {
    vocabSize: n + (opts.addedTokens?.length ?? 0),
    bosId: 1,
    eosId: 2,
    unkId: 0,
    addedIds: (opts.addedTokens ?? []).map((_, i) => n + i),
    tokens: keptOld.map(([t]) => t),
  };
}
