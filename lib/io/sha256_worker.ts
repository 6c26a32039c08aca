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

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { sha256File } from "./hash.ts";

self.onmessage = async (e: MessageEvent<string>) => {
  try {
    self.postMessage({ ok: true, hex: await sha256File(e.data) });
  } catch (err) {
    self.postMessage({ ok: false, message: (err as Error).message });
  }
};
