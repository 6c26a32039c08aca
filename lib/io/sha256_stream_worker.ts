/**
 * Worker that keeps one running sha256 over slices of shared buffers, in the
 * order they are posted: the fingerprint of a file being written, computed on
 * the other core while the writer converts the next bytes. Started by
 * {@link Sha256Stream} in sha256_stream.ts.
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./sha256_stream_worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage({ kind: "slots", slots: [new SharedArrayBuffer(16)] });
 * worker.postMessage({ kind: "update", slot: 0, length: 16 }); // replies { kind: "done", slot: 0 }
 * worker.postMessage({ kind: "digest" }); // replies { kind: "digest", hex }
 * ```
 * @module
 */

import { createHash } from "node:crypto";

/** What the writer posts. */
export type Sha256StreamRequest =
  | { kind: "slots"; slots: SharedArrayBuffer[] }
  | { kind: "update"; slot: number; length: number }
  | { kind: "digest" };

/** What the worker replies: a slot hashed (free again), or the final digest. */
export type Sha256StreamReply = { kind: "done"; slot: number } | { kind: "digest"; hex: string };

// The worker scope, typed here rather than with the deno.worker lib (see sha256_worker.ts).
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Sha256StreamRequest>) => void) | null;
  postMessage(message: Sha256StreamReply): void;
};

const hash = createHash("sha256");
let views: Uint8Array[] = [];

scope.onmessage = (e: MessageEvent<Sha256StreamRequest>) => {
  const m = e.data;
  if (m.kind === "slots") views = m.slots.map((s) => new Uint8Array(s));
  else if (m.kind === "update") {
    hash.update(views[m.slot]!.subarray(0, m.length));
    scope.postMessage({ kind: "done", slot: m.slot });
  } else scope.postMessage({ kind: "digest", hex: hash.digest("hex") });
};
