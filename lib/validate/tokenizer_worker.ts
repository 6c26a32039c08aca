/**
 * The worker thread of lib/validate/side_tokenizer.ts: opens the GGUF itself,
 * builds the tokenizer exactly as gate 2 would on the main thread
 * (`TextTokenizer.load`), encodes the texts it is given, then decodes id
 * lists on request until it is terminated.
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./tokenizer_worker.ts", import.meta.url), { type: "module" });
 * // worker.postMessage({ ggufPath: "m.gguf", tokenizerPath: null, texts: ["Hello"] });
 * ```
 * @module
 */

import { type GgufFile, openGguf } from "../gguf/reader.ts";
import { TextTokenizer } from "../tokenizer/tokenizer.ts";
import type {
  DecodeReply,
  DecodeRequest,
  Encoded,
  TokenizerReply,
  TokenizerRequest,
} from "./side_tokenizer.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<TokenizerRequest | DecodeRequest>) => void) | null;
  postMessage(message: TokenizerReply | DecodeReply): void;
};

let tokenizer: TextTokenizer | null = null;

/** The message of whatever was thrown, as gate 2 reads it (`(e as Error).message`). */
const messageOf = (e: unknown) => (e as Error).message;

/** Opens the file, builds the tokenizer, encodes the texts: the reply gate 2 waits for. */
async function load(request: TokenizerRequest): Promise<TokenizerReply> {
  let gguf: GgufFile;
  try {
    gguf = await openGguf(request.ggufPath);
  } catch (e) {
    // The main thread opened this file: a failure here is this thread's, not the model's.
    return { kind: "broken", message: messageOf(e) };
  }
  try {
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
  } finally {
    gguf.close();
  }
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
  try {
    if (!tokenizer) throw new Error("tokenizer worker: no tokenizer was loaded");
    scope.postMessage({ id: request.id, text: tokenizer.decode(request.ids, request.opts) });
  } catch (e) {
    scope.postMessage({ id: request.id, error: messageOf(e) });
  }
};
