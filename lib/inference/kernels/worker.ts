/**
 * A kernel worker thread: instantiates the kernel module over the shared
 * memory it is sent, says "ready", then serves matmul jobs from the control
 * block until told to exit (see control.ts). Started by wasm.ts.
 *
 * @example
 * ```ts
 * const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
 * // worker.postMessage({ module, memory, index: 1, spinMicros: 300 });
 * ```
 * @module
 */

import { controlOf, serveJobs } from "./control.ts";
import type { KernelExports } from "./wasm_module.ts";
import { openNativeKernels, withNativeKernels } from "./native.ts";

/** What wasm.ts sends a new worker. */
export interface WorkerStart {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  index: number;
  spinMicros: number;
  /** The native kernel library the calling thread uses (native.ts), if any. */
  native?: { path: string; fusedF16: boolean };
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<WorkerStart>) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
};

scope.onmessage = (e: MessageEvent<WorkerStart>) => {
  scope.onmessage = null;
  const { module, memory, index, spinMicros, native } = e.data;
  let kernels: KernelExports;
  try {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    kernels = instance.exports as unknown as KernelExports;
    if (native !== undefined) {
      const lib = openNativeKernels(native.path);
      kernels = withNativeKernels(kernels, memory, lib, native.fusedF16);
    }
  } catch (error) {
    scope.postMessage({ error: String(error) });
    return;
  }
  scope.postMessage("ready");
  serveJobs(kernels, controlOf(memory), index, spinMicros);
  scope.close();
};
