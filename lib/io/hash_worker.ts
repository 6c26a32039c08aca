/**
 * The sha256 of a (large) input file, computed in a worker so that it runs
 * beside the work that reads it (export, quantization) instead of before it.
 *
 * @example
 * ```ts
 * import { sha256InWorker } from "./hash_worker.ts";
 * const job = sha256InWorker("models/clean/clean-f16.gguf");
 * try {
 *   console.log(await job.digest);
 * } finally {
 *   job.cancel();
 * }
 * ```
 * @module
 */

import { InputError } from "../errors.ts";
// A type import keeps the worker module in the static graph (deno cache, lock files).
import type { Sha256Reply, Sha256Request } from "./sha256_worker.ts";

/** A running hash: its result, and a way to stop it early. */
export interface HashJob {
  /** Lower-case hex sha256; rejects with an {@link InputError} when the file cannot be read. */
  readonly digest: Promise<string>;
  /** Stops the worker (harmless once the digest has arrived). */
  cancel(): void;
}

/**
 * Starts hashing `path` in a worker.
 *
 * @example
 * ```ts
 * const job = sha256InWorker("fixtures/tiny-bitnet/model.safetensors");
 * const hex = await job.digest;
 * job.cancel();
 * ```
 */
export function sha256InWorker(path: string): HashJob {
  const worker = new Worker(new URL("./sha256_worker.ts", import.meta.url), { type: "module" });
  const stop = () => worker.terminate(); // terminating twice is harmless
  const digest = new Promise<string>((resolve, reject) => {
    // A file job is answered by one "file" reply.
    worker.onmessage = (e: MessageEvent<Extract<Sha256Reply, { kind: "file" }>>) => {
      stop();
      if (e.data.ok) resolve(e.data.hex);
      else reject(new InputError(e.data.message || `${path}: cannot hash`));
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      stop();
      reject(new InputError(`${path}: the hashing worker failed (${e.message})`));
    };
  });
  // An unobserved rejection after cancel() must not crash the process.
  digest.catch(() => {});
  worker.postMessage({ kind: "file", path } satisfies Sha256Request);
  return { digest, cancel: stop };
}
