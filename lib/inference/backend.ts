/**
 * Backend selection: the one place where a kernel implementation is chosen
 * and created. The engine sizes kernel memory once (weights + KV cache +
 * scratch) and asks for a backend of exactly that size.
 *
 * @example
 * ```ts
 * import { backendFor, resolveThreads } from "./backend.ts";
 * const kernels = await backendFor("reference").create(1 << 20, resolveThreads());
 * kernels.close();
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import type { Kernels } from "./kernels/api.ts";
import { createReferenceKernels } from "./kernels/reference.ts";
import { createWasmKernels, wasmTernaryBytes } from "./kernels/wasm.ts";
import { RESERVED_BYTES } from "./kernels/control.ts";

/** Backend names accepted by the engine and `--backend`. */
export const BACKEND_NAMES = ["wasm", "reference"] as const;
/** One of {@link BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** What the engine needs to know about a backend before creating it. */
export interface Backend {
  readonly name: BackendName;
  /** Bytes of a packed `rows × cols` ternary matrix in this backend's layout. */
  ternaryBytes(rows: number, cols: number): number;
  /** Bytes of the `bytes` given to `create` that `alloc` cannot hand out. */
  readonly reservedBytes: number;
  /** The most memory `create` can provide. */
  readonly maxBytes: number;
  /** Matrix widths (cols) the kernels accept must be multiples of these. */
  readonly colsMultiple: { readonly float: number; readonly ternary: number };
  /** `native`: a native kernel library (kernels/native.ts), wasm only. */
  create(bytes: number, threads: number, native?: string): Promise<Kernels>;
}

const reference: Backend = {
  name: "reference",
  ternaryBytes: (rows, cols) => rows * cols,
  // BumpAllocator starts at 64 so that a null pointer is never handed out.
  reservedBytes: 64,
  // One ArrayBuffer; V8 refuses much beyond this on 64-bit hosts.
  maxBytes: 2 ** 35,
  colsMultiple: { float: 1, ternary: 1 },
  create: (bytes, _threads, native) => {
    if (native !== undefined) {
      throw new UsageError(`native kernels (${native}) run with the wasm backend, not reference`);
    }
    return Promise.resolve(createReferenceKernels(bytes));
  },
};

/** WebAssembly SIMD kernels with worker threads (lib/inference/kernels/wasm.ts). */
const wasm: Backend = {
  name: "wasm",
  ternaryBytes: wasmTernaryBytes,
  // The control block lives outside `bytes`: createWasmKernels adds it.
  reservedBytes: 0,
  // A 32-bit WebAssembly memory, minus the control block and the last 64 bytes.
  maxBytes: 2 ** 32 - RESERVED_BYTES - 64,
  colsMultiple: { float: 16, ternary: 64 },
  create: (bytes, threads, native) =>
    createWasmKernels({ bytes, threads, ...(native !== undefined ? { native } : {}) }),
};

/** The default backend. */
export const DEFAULT_BACKEND: BackendName = "wasm";

/**
 * The backend for a name.
 *
 * @example
 * ```ts
 * backendFor("wasm").ternaryBytes(6, 256); // 512
 * ```
 */
export function backendFor(name: BackendName = DEFAULT_BACKEND): Backend {
  if (name === "reference") return reference;
  if (name === "wasm") return wasm;
  throw new UsageError(`unknown backend "${name}" (use ${BACKEND_NAMES.join(" or ")})`);
}

/**
 * Worker threads: `requested` if given (the tasks pass BITNET_THREADS), else
 * the number of logical CPUs.
 *
 * @example
 * ```ts
 * resolveThreads(4); // 4
 * resolveThreads(); // navigator.hardwareConcurrency
 * ```
 */
export function resolveThreads(requested?: number): number {
  if (requested !== undefined) {
    if (!Number.isSafeInteger(requested) || requested < 1) {
      throw new UsageError(`threads must be a positive integer, got ${requested}`);
    }
    return requested;
  }
  return Math.max(1, navigator.hardwareConcurrency || 1);
}
