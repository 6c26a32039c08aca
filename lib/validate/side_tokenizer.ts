/**
 * Gate 2's tokenizer, built on a worker thread. Building the byte-level BPE
 * tokenizer of a 128k-token vocabulary takes about a second of one core
 * (the vocabulary object, `@huggingface/tokenizers`' maps and merges, their
 * garbage); on the main thread it delayed the engine load by as much. The
 * worker (lib/validate/tokenizer_worker.ts) builds it with the same
 * `TextTokenizer.load` while the main thread inspects the norms and loads the
 * engine, encodes gate 3's fixed texts (the prompt, the NLL passage), and
 * decodes the generated ids on request: the ids, texts and error messages
 * are those of the main-thread tokenizer.
 *
 * When the worker itself fails (it cannot start, or cannot open the file
 * the main thread opened), the tokenizer is built on the main thread as
 * before, so a report never depends on the worker.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const path = "models/clean/clean-f16.gguf";
 * const side = SideTokenizer.start({ ggufPath: path, tokenizerPath: null, texts: ["Hello"] });
 * const gguf = await openGguf(path);
 * const outcome = await side.outcome(gguf);
 * if ("tokenizer" in outcome) console.log(outcome.tokenizer.encode("Hello"));
 * side.close();
 * gguf.close();
 * ```
 * @module
 */

import type { GgufFile } from "../gguf/reader.ts";
import { TextTokenizer } from "../tokenizer/tokenizer.ts";

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

/** The text of a {@link DecodeRequest}, or the message `decode` threw. */
export type DecodeReply =
  | { readonly id: number; readonly text: string }
  | { readonly id: number; readonly error: string };

/** What gate 2 and gate 3 use of a tokenizer. */
export interface GateTokenizer {
  readonly vocabSize: number;
  /** Ids of one of the texts given to {@link SideTokenizer.start} (with the BOS by default). */
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string | Promise<string>;
}

/** The tokenizer, or the message its loading threw (gate 2's tokenizer check). */
export type TokenizerOutcome = { readonly tokenizer: GateTokenizer } | { readonly error: string };

/** An Error whose message is exactly `message` (even a non-string one, as the worker saw it). */
function errorWith(message: string): Error {
  const e = new Error();
  e.message = message;
  return e;
}

/**
 * The tokenizer being built on a worker thread; {@link SideTokenizer.outcome}
 * waits for it. Close it when the validation ends.
 *
 * @example
 * ```ts
 * declare const gguf: import("../gguf/reader.ts").GgufFile;
 * const side = SideTokenizer.start({ ggufPath: gguf.path, tokenizerPath: null, texts: ["Hi"] });
 * const outcome = await side.outcome(gguf);
 * side.close();
 * ```
 */
export class SideTokenizer {
  readonly #request: TokenizerRequest;
  readonly #worker: Worker | null;
  readonly #reply: Promise<TokenizerReply>;
  readonly #pending = new Map<
    number,
    { resolve: (text: string) => void; reject: (e: Error) => void }
  >();
  #nextId = 0;
  #outcome: Promise<TokenizerOutcome> | undefined;
  /** What ended the worker (an error event, or close) once it can no longer answer. */
  #ended: string | null = null;

  private constructor(request: TokenizerRequest) {
    this.#request = request;
    let worker: Worker | null = null, startError = "";
    try {
      worker = new Worker(new URL("./tokenizer_worker.ts", import.meta.url), { type: "module" });
    } catch (e) {
      startError = String(e);
    }
    this.#worker = worker;
    this.#reply = worker === null
      ? Promise.resolve({ kind: "broken", message: startError })
      : new Promise<TokenizerReply>((resolve) => {
        worker.onmessage = (e: MessageEvent<TokenizerReply | DecodeReply>) => {
          const data = e.data;
          if ("kind" in data) resolve(data);
          else this.#settle(data);
        };
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          this.#end(`tokenizer worker: ${e.message}`);
          resolve({ kind: "broken", message: e.message });
        };
        worker.postMessage(request);
      });
  }

  /**
   * Starts building the tokenizer of `request.ggufPath` (checked against
   * `request.tokenizerPath` when given) and encoding `request.texts`.
   *
   * @example
   * ```ts
   * const side = SideTokenizer.start({ ggufPath: "m.gguf", tokenizerPath: null, texts: [] });
   * side.close();
   * ```
   */
  static start(request: TokenizerRequest): SideTokenizer {
    return new SideTokenizer({ ...request, texts: [...request.texts] });
  }

  /**
   * The tokenizer or its loading error, as `TextTokenizer.load` gives them on
   * the main thread; `gguf` (the main thread's open file) serves when the
   * worker failed.
   *
   * @example
   * ```ts
   * declare const side: SideTokenizer, gguf: import("../gguf/reader.ts").GgufFile;
   * const outcome = await side.outcome(gguf);
   * ```
   */
  outcome(gguf: GgufFile): Promise<TokenizerOutcome> {
    return this.#outcome ??= this.#reply.then((reply) => {
      if (reply.kind === "failed") return { error: reply.message };
      if (reply.kind === "loaded") return { tokenizer: this.#remote(reply) };
      this.close();
      return mainThreadTokenizer(this.#request, gguf);
    });
  }

  /** The tokenizer whose encodings came with the reply and whose decoding is the worker's. */
  #remote(reply: Extract<TokenizerReply, { kind: "loaded" }>): GateTokenizer {
    const encoded = new Map(this.#request.texts.map((t, i) => [t, reply.encoded[i]!]));
    return {
      vocabSize: reply.vocabSize,
      encode: (text) => {
        const e = encoded.get(text);
        if (!e) throw new Error(`tokenizer worker: ${JSON.stringify(text)} was not encoded`);
        if ("error" in e) throw errorWith(e.error);
        return [...e.ids];
      },
      decode: (ids, opts = {}) => this.#decode(ids, opts),
    };
  }

  #decode(ids: readonly number[], opts: { skipSpecial?: boolean }): Promise<string> {
    if (this.#ended !== null || !this.#worker) return Promise.reject(new Error(this.#ended ?? ""));
    const id = this.#nextId++;
    return new Promise<string>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const request: DecodeRequest = { kind: "decode", id, ids: [...ids], opts };
      this.#worker!.postMessage(request);
    });
  }

  #settle(reply: DecodeReply): void {
    const waiting = this.#pending.get(reply.id);
    if (!waiting) return;
    this.#pending.delete(reply.id);
    if ("error" in reply) waiting.reject(errorWith(reply.error));
    else waiting.resolve(reply.text);
  }

  /** Rejects every decode still waiting: the worker will not answer. */
  #end(why: string): void {
    this.#ended ??= why;
    for (const waiting of this.#pending.values()) waiting.reject(new Error(why));
    this.#pending.clear();
  }

  /**
   * Ends the worker (a decode still waiting fails).
   *
   * @example
   * ```ts
   * declare const side: SideTokenizer;
   * side.close();
   * ```
   */
  close(): void {
    this.#end("tokenizer worker: closed");
    this.#worker?.terminate();
  }
}

/** The tokenizer built here, as gate 2 built it before the worker (the fallback). */
async function mainThreadTokenizer(
  request: TokenizerRequest,
  gguf: GgufFile,
): Promise<TokenizerOutcome> {
  const path = request.tokenizerPath;
  try {
    const tokenizer = await TextTokenizer.load(path ? { tokenizerJsonPath: path, gguf } : { gguf });
    return { tokenizer };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
