/**
 * A worker that counts the payloads of large 16-bit tensors for validate's
 * gate 2 (lib/validate/side_worker.ts starts it once the side worker has
 * retired): the statistics `recomputeStatistics` gives each tensor a
 * `PayloadCounter` counts, from a plain read of the file at the offsets the
 * main thread's GGUF gives, without parsing the GGUF again. It imports no
 * tokenizer, so it starts in a fraction of the side worker's time (the
 * tokenizer library is most of that), while the engine loads beside it.
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./count_worker_thread.ts", import.meta.url), { type: "module" });
 * // worker.postMessage({ kind: "count", id: 0, path: "m.gguf", tensors: [info] });
 * ```
 * @module
 */

import type { GgufTensorInfo } from "../gguf/reader.ts";
import { RandomAccessFile } from "../io/random_access.ts";
import { PayloadCounter, STATS_CHUNK_BYTES } from "../provenance/tensor_stats.ts";
import type { SideReply, TensorStatistics } from "./side_worker_thread.ts";

/**
 * What the main thread asks: the statistics of the tensors (as its GGUF
 * describes them) that a `PayloadCounter` counts, from `path` at their offsets.
 */
export interface CountRequest {
  readonly kind: "count";
  readonly id: number;
  readonly path: string;
  /** Null for a tensor the main thread does not have. */
  readonly tensors: readonly (GgufTensorInfo | null)[];
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<CountRequest>) => void) | null;
  postMessage(message: SideReply): void;
};

/**
 * The statistics recomputeStatistics gives a tensor that a PayloadCounter
 * counts (the same counter over the same bytes); null for any other, or when
 * the counts cannot tell (the main thread then computes them from the values).
 */
async function counted(file: RandomAccessFile, t: GgufTensorInfo) {
  const counter = PayloadCounter.for(t);
  if (!counter) return null;
  // The same chunks as GgufFile.streamTensor, from the main thread's offsets.
  const chunks = file.stream(t.fileOffset, t.nbytes, STATS_CHUNK_BYTES, `tensor ${t.name}`);
  return await counter.countAll(chunks) ?? null;
}

/** {@link counted} for each tensor; null for every one when the file cannot be opened. */
async function count(request: CountRequest): Promise<TensorStatistics> {
  let file: RandomAccessFile;
  try {
    file = await RandomAccessFile.open(request.path);
  } catch {
    return request.tensors.map(() => null);
  }
  try {
    return await Promise.all(request.tensors.map(async (t) => {
      try {
        return t && await counted(file, t);
      } catch {
        // The main thread computes it again and reports the error as it always did.
        return null;
      }
    }));
  } finally {
    file.close();
  }
}

scope.onmessage = async (e) => {
  const request = e.data;
  scope.postMessage({ id: request.id, stats: await count(request) });
};
