/**
 * The worker thread of lib/validate/side_worker.ts: opens the GGUF itself,
 * builds the tokenizer as gate 2 would on the main thread
 * (`TextTokenizer.load`; a GGUF's own byte-level BPE cut down to the given
 * texts, `encodingSubset`), encodes the texts it is given, then answers
 * decodes and tensor statistics (`recomputeStatistics`, from its own read of
 * the file) until it is terminated. (lib/validate/count_worker_thread.ts
 * counts payloads without a tokenizer.)
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./side_worker_thread.ts", import.meta.url), { type: "module" });
 * // worker.postMessage({ ggufPath: "m.gguf", tokenizerPath: null, texts: ["Hello"] });
 * ```
 * @module
 */

import { type GgufFile, openGguf } from "../gguf/reader.ts";
import { recomputeStatistics } from "../provenance/tensor_stats.ts";
import { readTokenizerMetadata } from "../tokenizer/metadata.ts";
import { encodingSubset, TextTokenizer } from "../tokenizer/tokenizer.ts";
import type { RecomputedStatistics } from "../provenance/tensor_stats.ts";

/** What the main thread asks the worker first. */
export interface TokenizerRequest {
  readonly ggufPath: string;
  /** A tokenizer.json that must agree with the GGUF's tokenizer (as `--tokenizer`), or null. */
  readonly tokenizerPath: string | null;
  /** The texts to encode at once (`encode` gives only these). */
  readonly texts: readonly string[];
}

/** One text's ids, or the message `encode` threw. */
export type Encoded = { readonly ids: number[] } | { readonly error: string };

/** The worker's answer to a {@link TokenizerRequest}. */
export type TokenizerReply =
  /** Built: its vocabulary size and each text's ids (or encoding error). */
  | { readonly kind: "loaded"; readonly vocabSize: number; readonly encoded: Encoded[] }
  /** `TextTokenizer.load` threw this message: gate 2's tokenizer check fails with it. */
  | { readonly kind: "failed"; readonly message: string }
  /** The worker could not do its part (e.g. open the file): build on the main thread instead. */
  | { readonly kind: "broken"; readonly message: string };

/** A decode asked of the worker once the tokenizer is built. */
export interface DecodeRequest {
  readonly kind: "decode";
  readonly id: number;
  readonly ids: readonly number[];
  readonly opts: { readonly skipSpecial?: boolean };
}

/** Statistics asked of the worker: `recomputeStatistics` of each named tensor. */
export interface StatsRequest {
  readonly kind: "stats";
  readonly id: number;
  readonly names: readonly string[];
}

/** Each tensor's statistics, null where the main thread is to compute them. */
export type TensorStatistics = (RecomputedStatistics | null)[];

/**
 * The answer to a {@link DecodeRequest} (its text, or the message `decode`
 * threw) or to a {@link StatsRequest}.
 */
export type SideReply =
  | { readonly id: number; readonly text: string }
  | { readonly id: number; readonly error: string }
  | { readonly id: number; readonly stats: TensorStatistics };

const scope = self as unknown as {
  onmessage:
    | ((e: MessageEvent<TokenizerRequest | DecodeRequest | StatsRequest>) => void)
    | null;
  postMessage(message: TokenizerReply | SideReply): void;
};

/** The tokenizer that decodes: the one built, or built by {@link decoder} when first asked. */
let tokenizer: TextTokenizer | null = null;
let decoder = (): TextTokenizer | null => tokenizer;
/** The file, open for the statistics asked later (closed with the thread). */
let gguf: GgufFile | null = null;

/** The message of whatever was thrown, as gate 2 reads it (`(e as Error).message`). */
const messageOf = (e: unknown) => (e as Error).message;

/** Opens the file, builds the tokenizer, encodes the texts: the reply gate 2 waits for. */
async function load(request: TokenizerRequest): Promise<TokenizerReply> {
  try {
    gguf = await openGguf(request.ggufPath);
  } catch (e) {
    // The main thread opened this file: a failure here is this thread's, not the model's.
    return { kind: "broken", message: messageOf(e) };
  }
  const { tokenizerPath } = request;
  let encoder: TextTokenizer;
  try {
    if (tokenizerPath) {
      encoder = tokenizer = await TextTokenizer.load({ tokenizerJsonPath: tokenizerPath, gguf });
    } else {
      // `TextTokenizer.load({ gguf })`, cut down to these texts for their encoding (the same
      // ids, a fraction of the build: it ran beside the engine load); decodes, which the main
      // thread does itself for a GGUF's byte-level BPE, get the whole tokenizer.
      const meta = readTokenizerMetadata(gguf);
      const path = gguf.path;
      encoder = TextTokenizer.fromMetadata(encodingSubset(meta, request.texts), path);
      decoder = () => tokenizer ??= TextTokenizer.fromMetadata(meta, path);
    }
  } catch (e) {
    return { kind: "failed", message: messageOf(e) };
  }
  const encoded = request.texts.map((text): Encoded => {
    try {
      return { ids: encoder.encode(text) };
    } catch (e) {
      return { error: messageOf(e) };
    }
  });
  return { kind: "loaded", vocabSize: encoder.vocabSize, encoded };
}

/** Each tensor's statistics; null where they cannot be had here (the main thread computes them). */
async function stats(names: readonly string[]) {
  const file = gguf;
  return await Promise.all(names.map(async (name) => {
    try {
      return (file && await recomputeStatistics(file, file.tensor(name))) ?? null;
    } catch {
      // The main thread computes it again and reports the error as it always did.
      return null;
    }
  }));
}

scope.onmessage = async (e) => {
  const request = e.data;
  if (!("kind" in request)) {
    let reply: TokenizerReply;
    try {
      reply = await load(request);
    } catch (e) {
      reply = { kind: "broken", message: String(e) };
    }
    scope.postMessage(reply);
    return;
  }
  if (request.kind === "stats") {
    scope.postMessage({ id: request.id, stats: await stats(request.names) });
    return;
  }
  try {
    const decoding = decoder();
    if (!decoding) throw new Error("side worker: no tokenizer was loaded");
    scope.postMessage({ id: request.id, text: decoding.decode(request.ids, request.opts) });
  } catch (e) {
    scope.postMessage({ id: request.id, error: messageOf(e) });
  }
};
