/**
 * Memory read bandwidth as WebAssembly sees it: SIMD loads (four 16-byte
 * loads per step, XOR-folded so nothing is optimised away) over a buffer far
 * larger than the caches, by 1 and by N workers sharing one memory, each
 * reading its own slice; best of several passes. The figure is the ceiling
 * for a memory-bound kernel: a token that must read B bytes of weights cannot
 * take less than B ÷ bandwidth.
 *
 *   deno run -A bench/membw_bench.ts [--mib 1024] [--passes 5] [--threads 1,2] [--json]
 *
 * @example
 * ```ts
 * import { measureReadBandwidth } from "./membw_bench.ts";
 * const r = await measureReadBandwidth({ mib: 256, passes: 2, threads: [1] });
 * console.log(r[0]!.gbPerS);
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { wabtInit } from "../deps.ts";

const WAT = `(module
  (import "env" "mem" (memory 1 65536 shared))
  (func (export "read") (param $p i32) (param $end i32) (result i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (v128.xor (local.get $a) (v128.load offset=0 (local.get $p))))
        (local.set $b (v128.xor (local.get $b) (v128.load offset=16 (local.get $p))))
        (local.set $c (v128.xor (local.get $c) (v128.load offset=32 (local.get $p))))
        (local.set $d (v128.xor (local.get $d) (v128.load offset=48 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $next)))
    (i32x4.extract_lane 0
      (v128.xor (v128.xor (local.get $a) (local.get $b)) (v128.xor (local.get $c) (local.get $d))))))`;

/** One thread count's result. */
export interface BandwidthResult {
  threads: number;
  bytes: number;
  /** Best pass, in GB/s (10⁹ bytes). */
  gbPerS: number;
  /** Every pass, GB/s. */
  passes: number[];
}

/** Options of {@link measureReadBandwidth}. */
export interface BandwidthOptions {
  mib?: number;
  passes?: number;
  threads?: number[];
}

async function assemble(): Promise<WebAssembly.Module> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat("membw.wat", WAT, { simd: true, threads: true });
  try {
    const { buffer } = parsed.toBinary({});
    return await WebAssembly.compile(new Uint8Array(buffer));
  } finally {
    parsed.destroy();
  }
}

/** Worker body: instantiate on the shared memory, then read slices on request. */
function workerMain(): void {
  const scope = self as unknown as {
    onmessage: (e: MessageEvent) => void;
    postMessage(message: unknown): void;
  };
  let read: ((p: number, end: number) => number) | null = null;
  scope.onmessage = async (e: MessageEvent) => {
    const m = e.data as
      | { op: "init"; module: WebAssembly.Module; mem: WebAssembly.Memory }
      | { op: "read"; start: number; end: number };
    if (m.op === "init") {
      const inst = await WebAssembly.instantiate(m.module, { env: { mem: m.mem } });
      read = inst.exports.read as (p: number, end: number) => number;
      // Many short calls first, so V8 tiers the loop up to optimised code before any timed pass.
      for (let i = 0; i < 400; i++) read(0, 1 << 18);
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 400; i++) read(0, 1 << 18);
      scope.postMessage({ ok: true });
    } else {
      scope.postMessage({ ok: true, x: read!(m.start, m.end) });
    }
  };
}

function ask(w: Worker, msg: unknown): Promise<void> {
  return new Promise((resolve) => {
    w.onmessage = () => resolve();
    w.postMessage(msg);
  });
}

/** Measures read bandwidth for each thread count. */
export async function measureReadBandwidth(opts: BandwidthOptions = {}): Promise<
  BandwidthResult[]
> {
  const mib = opts.mib ?? 1024, passes = opts.passes ?? 5;
  const bytes = mib * 1024 * 1024;
  const module = await assemble();
  const mem = new WebAssembly.Memory({ initial: bytes / 65536, maximum: 65536, shared: true });
  // Touch every page so no pass pays for page faults.
  const fill = new Uint32Array(mem.buffer);
  for (let i = 0; i < fill.length; i += 1024) fill[i] = i;
  const counts = opts.threads ?? [1, Math.max(1, navigator.hardwareConcurrency || 1)];
  const workers: Worker[] = [];
  const results: BandwidthResult[] = [];
  try {
    for (let i = 0; i < Math.max(...counts); i++) {
      const w = new Worker(new URL(import.meta.url), { type: "module" });
      workers.push(w);
      await ask(w, { op: "init", module, mem });
    }
    for (const n of counts) {
      const slice = Math.floor(bytes / n / 64) * 64;
      const times: number[] = [];
      for (let p = 0; p <= passes; p++) {
        const t0 = performance.now();
        await Promise.all(
          workers.slice(0, n).map((w, i) =>
            ask(w, { op: "read", start: i * slice, end: (i + 1) * slice })
          ),
        );
        if (p > 0) times.push((performance.now() - t0) / 1000); // pass 0 warms up
      }
      const gb = (slice * n) / 1e9;
      const rates = times.map((t) => gb / t);
      results.push({ threads: n, bytes: slice * n, gbPerS: Math.max(...rates), passes: rates });
    }
  } finally {
    for (const w of workers) w.terminate();
  }
  return results;
}

const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !==
  "undefined";

if (inWorker) {
  workerMain();
} else if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      mib: { type: "string" },
      passes: { type: "string" },
      threads: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const results = await measureReadBandwidth({
    mib: Number(values.mib ?? 1024),
    passes: Number(values.passes ?? 5),
    ...(values.threads ? { threads: values.threads.split(",").map(Number) } : {}),
  });
  if (values.json) console.log(JSON.stringify(results));
  else {
    for (const r of results) {
      console.log(
        `${r.threads} thread(s): ${r.gbPerS.toFixed(1)} GB/s best of ${r.passes.length} ` +
          `(${r.passes.map((x) => x.toFixed(1)).join(", ")}) over ${(r.bytes / 2 ** 20) | 0} MiB`,
      );
    }
  }
}
