/**
 * Gate 2's tokenizer and its largest float statistics, on a worker thread.
 * Building the byte-level BPE tokenizer of a 128k-token vocabulary takes
 * about a second of one core (the vocabulary object, `@huggingface/tokenizers`'
 * maps and merges, their garbage), and the bit-pattern histogram of a 656 MB
 * F16 embedding half a second more; on the main thread both delayed the
 * engine load. The worker (lib/validate/side_worker_thread.ts) opens the file
 * itself and builds the tokenizer with the same `TextTokenizer.load` while the
 * main thread inspects the norms and loads the engine (a GGUF's own byte-level
 * BPE cut down to gate 3's texts, `encodingSubset`: the same ids in about a
 * tenth of the time, which left the load a core of its own), encodes gate 3's fixed
 * texts (the prompt, the NLL passage), decodes the generated ids on request,
 * and computes asked tensors' statistics with the same `recomputeStatistics`:
 * ids, texts, statistics and error messages are those of the main thread.
 *
 * When the worker itself fails (it cannot start, or cannot open the file
 * the main thread opened), the tokenizer is built on the main thread as
 * before and the statistics come back as null (the main thread computes
 * them), so a report never depends on the worker.
 *
 * Memory: a worker with the whole tokenizer holds about 170 MB for a 128k
 * vocabulary (its V8 heap, large hash tables and malloc arena; the cut-down
 * one about 50 MB less), which validate would otherwise
 * hold beside the engine's weights through gate 3, the peak of its RSS. So
 * once the tokenizer's reply is in, {@link SideWorker.stats} ends the worker
 * when the main thread can decode without it ({@link mainThreadDecoder}: the
 * GGUF's own byte-level BPE) and counts the statistics on a second,
 * short-lived worker that imports no tokenizer. In validate both normally end
 * while the engine still loads (the tokenizer is built by then); about 90
 * MB is freed at once, and V8 keeps the ended heap's pages (about 80 MB)
 * pooled for some seconds. Gate 3's one decode then runs here, with the
 * same text.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const path = "models/clean/clean-f16.gguf";
 * const side = SideWorker.start({ ggufPath: path, tokenizerPath: null, texts: ["Hello"] });
 * const gguf = await openGguf(path);
 * const outcome = await side.outcome(gguf);
 * if ("tokenizer" in outcome) console.log(outcome.tokenizer.encode("Hello"));
 * side.close();
 * gguf.close();
 * ```
 * @module
 */

import type { GgufFile } from "../gguf/reader.ts";
import { readTokenizerMetadata, type TokenizerMetadata } from "../tokenizer/metadata.ts";
import { keptTokens, TextTokenizer } from "../tokenizer/tokenizer.ts";
// A type import keeps the worker module in the static graph (runs from a URL, `deno compile`).
import type { CountRequest } from "./count_worker_thread.ts";
import type {
  DecodeRequest,
  SideReply,
  StatsRequest,
  TensorStatistics,
  TokenizerReply,
  TokenizerRequest,
} from "./side_worker_thread.ts";

export type { TensorStatistics, TokenizerRequest };

/** What gate 2 and gate 3 use of a tokenizer. */
export interface GateTokenizer {
  readonly vocabSize: number;
  /** Ids of one of the texts given to {@link SideWorker.start} (with the BOS by default). */
  encode(text: string): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string | Promise<string>;
}

/** Decodes ids as `TextTokenizer.decode` does. */
export type Decode = (ids: readonly number[], opts?: { skipSpecial?: boolean }) => string;

/** The tokenizer, or the message its loading threw (gate 2's tokenizer check). */
export type TokenizerOutcome = { readonly tokenizer: GateTokenizer } | { readonly error: string };

/** An Error whose message is exactly `message` (even a non-string one, as the worker saw it). */
function errorWith(message: string): Error {
  const e = new Error();
  e.message = message;
  return e;
}

/**
 * The worker thread building the tokenizer; {@link SideWorker.outcome} waits
 * for it. Close it when the validation ends.
 *
 * @example
 * ```ts
 * declare const gguf: import("../gguf/reader.ts").GgufFile;
 * const side = SideWorker.start({ ggufPath: gguf.path, tokenizerPath: null, texts: ["Hi"] });
 * const outcome = await side.outcome(gguf);
 * side.close();
 * ```
 */
export class SideWorker {
  readonly #request: TokenizerRequest;
  readonly #worker: Worker | null;
  readonly #reply: Promise<TokenizerReply>;
  readonly #pending = new Map<
    number,
    { resolve: (reply: SideReply) => void; reject: (e: Error) => void }
  >();
  #nextId = 0;
  #outcome: Promise<TokenizerOutcome> | undefined;
  /** What ended the worker (an error event, or close) once it can no longer answer. */
  #ended: string | null = null;
  /** The main thread's decoder once the worker has retired (see {@link SideWorker.stats}). */
  #decodeHere: Decode | null = null;
  /** Set once {@link SideWorker.stats} has ended the worker as no longer needed. */
  #retiredHere = false;
  /** The main thread's open file, given to {@link SideWorker.outcome}. */
  #gguf: GgufFile | null = null;

  private constructor(request: TokenizerRequest) {
    this.#request = request;
    let worker: Worker | null = null, startError = "";
    try {
      worker = new Worker(new URL("./side_worker_thread.ts", import.meta.url), { type: "module" });
    } catch (e) {
      startError = String(e);
    }
    this.#worker = worker;
    this.#reply = worker === null
      ? Promise.resolve({ kind: "broken", message: startError })
      : new Promise<TokenizerReply>((resolve) => {
        worker.onmessage = (e: MessageEvent<TokenizerReply | SideReply>) => {
          const data = e.data;
          if ("kind" in data) resolve(data);
          else this.#settle(data);
        };
        worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          this.#end(`side worker: ${e.message}`);
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
   * const side = SideWorker.start({ ggufPath: "m.gguf", tokenizerPath: null, texts: [] });
   * side.close();
   * ```
   */
  static start(request: TokenizerRequest): SideWorker {
    return new SideWorker({ ...request, texts: [...request.texts] });
  }

  /**
   * The tokenizer or its loading error, as `TextTokenizer.load` gives them on
   * the main thread; `gguf` (the main thread's open file) serves when the
   * worker failed.
   *
   * @example
   * ```ts
   * declare const side: SideWorker, gguf: import("../gguf/reader.ts").GgufFile;
   * const outcome = await side.outcome(gguf);
   * ```
   */
  outcome(gguf: GgufFile): Promise<TokenizerOutcome> {
    this.#gguf ??= gguf;
    return this.#outcome ??= this.#reply.then((reply) => {
      if (reply.kind === "failed") return { error: reply.message };
      if (reply.kind === "loaded") return { tokenizer: this.#remote(reply) };
      this.close();
      return mainThreadTokenizer(this.#request, gguf);
    });
  }

  /**
   * `recomputeStatistics` of each named tensor, from a read of the file off
   * the main thread once the tokenizer is built; null for a tensor (or every
   * one, when the worker failed) that the main thread is to compute itself.
   * After {@link SideWorker.outcome}, when the tokenizer failed or the main
   * thread can decode without the worker, the worker ends first and a
   * short-lived counting worker answers for the tensors a `PayloadCounter`
   * counts (the 16-bit matrices validate asks for; null for the others).
   *
   * @example
   * ```ts
   * declare const side: SideWorker;
   * const [embd] = await side.stats(["token_embd.weight"]);
   * ```
   */
  async stats(names: readonly string[]): Promise<TensorStatistics> {
    const none = () => names.map(() => null);
    const reply = await this.#reply;
    if (reply.kind === "broken") return none();
    const gguf = this.#gguf;
    if (gguf && this.#retire(gguf, reply)) return await countElsewhere(gguf, names);
    try {
      const answer = await this.#ask((id) => ({ kind: "stats", id, names: [...names] }));
      return "stats" in answer && answer.stats.length === names.length ? answer.stats : none();
    } catch {
      return none();
    }
  }

  /**
   * Whether the worker has retired: ended with its memory, while the
   * tokenizer still encodes the given texts and decodes (here).
   *
   * @example
   * ```ts
   * declare const side: SideWorker;
   * console.log(side.retired ? "decoding on the main thread" : "the worker decodes");
   * ```
   */
  get retired(): boolean {
    return this.#retiredHere;
  }

  /**
   * Ends the worker when nothing is left for it but the statistics: the
   * tokenizer failed (gate 3 will not run), or it is the GGUF's own
   * byte-level BPE, which {@link mainThreadDecoder} decodes to the same text
   * (a `--tokenizer` json or SentencePiece keeps the worker for gate 3's
   * decode). True when it has ended.
   */
  #retire(gguf: GgufFile, reply: TokenizerReply): boolean {
    if (this.#retiredHere) return true;
    if (this.#ended !== null || this.#pending.size > 0) return false;
    if (reply.kind === "loaded") {
      const decode = this.#request.tokenizerPath === null ? mainThreadDecoder(gguf) : null;
      if (!decode) return false;
      this.#decodeHere = decode;
    }
    this.close();
    this.#retiredHere = true;
    return true;
  }

  /** The tokenizer whose encodings came with the reply and whose decoding is the worker's. */
  #remote(reply: Extract<TokenizerReply, { kind: "loaded" }>): GateTokenizer {
    const encoded = new Map(this.#request.texts.map((t, i) => [t, reply.encoded[i]!]));
    return {
      vocabSize: reply.vocabSize,
      encode: (text) => {
        const e = encoded.get(text);
        if (!e) throw new Error(`side worker: ${JSON.stringify(text)} was not encoded`);
        if ("error" in e) throw errorWith(e.error);
        return [...e.ids];
      },
      decode: async (ids, opts = {}) => {
        if (this.#decodeHere) return this.#decodeHere(ids, opts);
        const request = (id: number): DecodeRequest => ({
          kind: "decode",
          id,
          ids: [...ids],
          opts,
        });
        const answer = await this.#ask(request);
        if ("error" in answer) throw errorWith(answer.error);
        if ("text" in answer) return answer.text;
        throw new Error("side worker: no text decoded");
      },
    };
  }

  /** Posts the request made for a fresh id and waits for the reply with that id. */
  #ask(request: (id: number) => DecodeRequest | StatsRequest): Promise<SideReply> {
    if (this.#ended !== null || !this.#worker) return Promise.reject(new Error(this.#ended ?? ""));
    const id = this.#nextId++;
    return new Promise<SideReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker!.postMessage(request(id));
    });
  }

  #settle(reply: SideReply): void {
    const waiting = this.#pending.get(reply.id);
    if (!waiting) return;
    this.#pending.delete(reply.id);
    waiting.resolve(reply);
  }

  /** Rejects every request still waiting: the worker will not answer. */
  #end(why: string): void {
    this.#ended ??= why;
    for (const waiting of this.#pending.values()) waiting.reject(new Error(why));
    this.#pending.clear();
  }

  /**
   * Ends the worker (a request still waiting fails).
   *
   * @example
   * ```ts
   * declare const side: SideWorker;
   * side.close();
   * ```
   */
  close(): void {
    this.#end("side worker: closed");
    this.#worker?.terminate();
  }
}

/**
 * The statistics of the named tensors that a `PayloadCounter` counts, from a
 * worker started for this alone (lib/validate/count_worker_thread.ts: it
 * imports no tokenizer and parses nothing, it reads the tensors at the
 * offsets of the main thread's GGUF) and ended
 * once it has answered; null for the other tensors, or for every one when
 * that worker fails (the main thread then computes them).
 */
async function countElsewhere(gguf: GgufFile, names: readonly string[]): Promise<TensorStatistics> {
  const none = names.map(() => null);
  const byName = new Map(gguf.tensors.map((t) => [t.name, t]));
  const request: CountRequest = {
    kind: "count",
    id: 0,
    path: gguf.path,
    tensors: names.map((name) => byName.get(name) ?? null),
  };
  let worker: Worker;
  try {
    worker = new Worker(new URL("./count_worker_thread.ts", import.meta.url), { type: "module" });
  } catch {
    return none;
  }
  try {
    return await new Promise<TensorStatistics>((resolve) => {
      worker.onmessage = (e: MessageEvent<SideReply>) => {
        const reply = e.data;
        resolve("stats" in reply && reply.stats.length === names.length ? reply.stats : none);
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        resolve(none);
      };
      worker.postMessage(request);
    });
  } catch {
    return none;
  } finally {
    worker.terminate();
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

/**
 * Decodes as the full tokenizer of `gguf` does, without building it, for a
 * byte-level BPE ("gpt2") tokenizer; null for any other (or unreadable
 * metadata). `@huggingface/tokenizers` decodes ids from their vocabulary
 * strings only (its id → string table is built from the string → id one,
 * so a string listed twice keeps its last id), the added tokens (control
 * and user-defined) and the decoder, never from the merges. So a tokenizer
 * built from the metadata without merges, keeping the added tokens and every
 * id whose string is one of the decoded ids' strings and giving all other
 * ids one filler string, decodes those ids to the same text
 * (tests/validate/side_worker_test.ts compares them): some 30 ms for a 128k
 * vocabulary instead of the full build's second and 100 MB.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * mainThreadDecoder(gguf)?.([9906, 1917], { skipSpecial: true }); // " Hello world"-like text
 * gguf.close();
 * ```
 */
export function mainThreadDecoder(gguf: GgufFile): Decode | null {
  let meta: TokenizerMetadata;
  try {
    meta = readTokenizerMetadata(gguf);
  } catch {
    return null;
  }
  if (meta.model !== "gpt2") return null;
  return (ids, opts = {}) => decodingTokenizer(meta, ids).decode(ids, opts);
}

/** The tokenizer of {@link mainThreadDecoder} for decoding `ids`. */
function decodingTokenizer(meta: TokenizerMetadata, ids: readonly number[]): TextTokenizer {
  // Plain comparisons with the few strings decoded: hashing 128k strings would cost more.
  const decoded = ids.map((id) => meta.tokens[id]);
  const tokens = keptTokens(meta, (token) => decoded.includes(token));
  return TextTokenizer.fromMetadata({ ...meta, tokens, merges: [] });
}
