/**
 * The worker thread of lib/validate/side_worker.ts: opens the GGUF itself,
 * builds the tokenizer exactly as gate 2 would on the main thread
 * (`TextTokenizer.load`), encodes the texts it is given, then answers
 * decodes and tensor statistics (`recomputeStatistics`, from its own read of
 * the file) until it is terminated.
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
import { TextTokenizer } from "../tokenizer/tokenizer.ts";
import type {
  DecodeRequest,
  Encoded,
  SideReply,
  StatsRequest,
  TokenizerReply,
  TokenizerRequest,
} from "./side_worker.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<TokenizerRequest | DecodeRequest | StatsRequest>) => void) | null;
  postMessage(message: TokenizerReply | SideReply): void;
};

let tokenizer: TextTokenizer | null = null;
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
  try {
    tokenizer = await TextTokenizer.load(
      tokenizerPath ? { tokenizerJsonPath: tokenizerPath, gguf } : { gguf },
    );
  } catch (e) {
    return { kind: "failed", message: messageOf(e) };
  }
  const encoded = request.texts.map((text): Encoded => {
    try {
      return { ids: tokenizer!.encode(text) };
    } catch (e) {
      return { error: messageOf(e) };
    }
  });
  return { kind: "loaded", vocabSize: tokenizer.vocabSize, encoded };
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
    if (!tokenizer) throw new Error("side worker: no tokenizer was loaded");
    scope.postMessage({ id: request.id, text: tokenizer.decode(request.ids, request.opts) });
  } catch (e) {
    scope.postMessage({ id: request.id, error: messageOf(e) });
  }
};
