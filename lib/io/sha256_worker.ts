/**
 * Worker that computes sha256 on another core, for two jobs: a whole file
 * by path (the input's provenance digest while the quantizer works; started
 * by {@link sha256InWorker} in hash_worker.ts), or one running digest over
 * slices of shared buffers in the order they are posted (the fingerprint of
 * a file being written, while the writer converts the next bytes; started by
 * `PipelinedWriter` in pipelined_writer.ts).
 *
 * The worker does nothing else, so a file is read synchronously
 * (`sha256FileSync`, hash.ts).
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./sha256_worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ kind: "file", path: "models/clean/clean-f16.gguf" }); // replies { kind: "file", ok: true, hex }
 * worker.postMessage({ kind: "slots", slots: [new SharedArrayBuffer(16)] });
 * worker.postMessage({ kind: "update", slot: 0, length: 16 }); // replies { kind: "done", slot: 0 }
 * worker.postMessage({ kind: "digest" }); // replies { kind: "digest", hex }
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { sha256FileSync } from "./hash.ts";

/** What the worker is asked: a file's digest, or the writer's shared slots, a slice, the digest. */
export type Sha256Request =
  | { kind: "file"; path: string }
  | { kind: "slots"; slots: SharedArrayBuffer[] }
  | { kind: "update"; slot: number; length: number }
  | { kind: "digest" };

/** What it replies: a file's digest or why it could not be hashed, a slot hashed (free again), or the digest. */
export type Sha256Reply =
  | { kind: "file"; ok: true; hex: string }
  | { kind: "file"; ok: false; message: string }
  | { kind: "done"; slot: number }
  | { kind: "digest"; hex: string };

// The worker scope, typed here rather than with the deno.worker lib: hash_worker.ts and
// pipelined_writer.ts import this module's types, which keeps the worker in the static module
// graph (deno cache and lock files cover it, so it loads from a URL under --frozen), and a
// deno.worker lib reference would then leak into the window programs that import them.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Sha256Request>) => void) | null;
  postMessage(message: Sha256Reply): void;
};

const hash = createHash("sha256");
let views: Uint8Array[] = [];

scope.onmessage = (e: MessageEvent<Sha256Request>) => {
  const m = e.data;
  if (m.kind === "file") {
    try {
      scope.postMessage({ kind: "file", ok: true, hex: sha256FileSync(m.path) });
    } catch (err) {
      scope.postMessage({ kind: "file", ok: false, message: (err as Error).message });
    }
  } else if (m.kind === "slots") views = m.slots.map((s) => new Uint8Array(s));
  else if (m.kind === "update") {
    hash.update(views[m.slot]!.subarray(0, m.length));
    scope.postMessage({ kind: "done", slot: m.slot });
  } else scope.postMessage({ kind: "digest", hex: hash.digest("hex") });
};
