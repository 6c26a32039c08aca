/**
 * Worker that hashes one file (sha256, streamed), so that the input's
 * provenance digest is computed on another core while the quantizer works.
 * Started by {@link sha256InWorker} in hash_worker.ts.
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./sha256_worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage("models/clean/clean-f16.gguf"); // replies { ok: true, hex } or { ok: false, message }
 * ```
 * @module
 */

import { sha256File } from "./hash.ts";

/** What the worker replies: the digest, or why the file could not be hashed. */
export type Sha256Reply = { ok: true; hex: string } | { ok: false; message: string };

// The worker scope, typed here rather than with the deno.worker lib: hash_worker.ts imports this
// module's types, which keeps the worker in the static module graph (deno cache and lock files
// cover it, so it loads from a URL under --frozen), and a deno.worker lib reference would then
// leak into the window programs that import hash_worker.ts.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<string>) => void) | null;
  postMessage(message: Sha256Reply): void;
};

scope.onmessage = async (e: MessageEvent<string>) => {
  try {
    scope.postMessage({ ok: true, hex: await sha256File(e.data) });
  } catch (err) {
    scope.postMessage({ ok: false, message: (err as Error).message });
  }
};
