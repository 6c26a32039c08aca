/**
 * Kernel throughput: GOPS (2 operations per multiply-add) of a 6912 × 2560
 * matrix × vector (the BitNet 2B FFN shape) for every weight type, for the
 * WebAssembly backend (relaxed and portable SIMD, 1 and 2 threads) and the
 * plain TypeScript reference; plus a batch-8 product (prompt processing) and the
 * time of a tiny threaded job (1024 x 128 f32), mostly fork/join cost.
 *
 * @example
 * ```sh
 * deno run -A bench/kernels_bench.ts            # full table
 * deno run -A bench/kernels_bench.ts --rows 2560 --batch 16
 * deno run -A bench/kernels_bench.ts --simd portable --threads 2 --no-reference
 * ```
 * @module
 */

import type { Kernels, Ptr } from "../lib/inference/kernels/api.ts";
import { createReferenceKernels } from "../lib/inference/kernels/reference.ts";
import { createWasmKernels } from "../lib/inference/kernels/wasm.ts";
import { relaxedSimdSupported } from "../lib/inference/kernels/wasm_module.ts";
import { f32ToBf16, f32ToF16 } from "../lib/codecs/float.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const ROWS = arg("rows", 6912);
const COLS = arg("cols", 2560);
const BATCH = arg("batch", 8);
const SECONDS = arg("seconds", 0.6);

type Kind = "f32" | "f16" | "bf16" | "ternary";
const KINDS: Kind[] = ["f32", "f16", "bf16", "ternary"];

let seed = 42;
function rnd(): number {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32 * 2 - 1;
}

const W = Float32Array.from({ length: ROWS * COLS }, () => rnd() * 0.05);
const X = Float32Array.from({ length: BATCH * COLS }, () => rnd());
const TRITS = Int8Array.from({ length: ROWS * COLS }, () => Math.round(rnd() * 1.2));

interface Prepared {
  run(batch: number): void;
}

function prepare(k: Kernels, kind: Kind): Prepared {
  const x = k.alloc(BATCH * COLS * 4), y = k.alloc(BATCH * ROWS * 4);
  k.f32(x, BATCH * COLS).set(X);
  if (kind === "ternary") {
    const w = k.alloc(k.ternaryBytes(ROWS, COLS));
    k.packTernary(TRITS, ROWS, COLS, w);
    const q = k.alloc(BATCH * COLS), t = k.alloc(BATCH * 4), s = k.alloc(BATCH * 4);
    k.quantizeRowsI8(x, q, t, s, COLS, BATCH);
    return { run: (b) => k.matmulTernary(w, 0.5, q, t, s, y, ROWS, COLS, b) };
  }
  let w: Ptr;
  if (kind === "f32") {
    w = k.alloc(ROWS * COLS * 4);
    k.f32(w, ROWS * COLS).set(W);
  } else {
    w = k.alloc(ROWS * COLS * 2);
    const u = k.u16(w, ROWS * COLS);
    const conv = kind === "f16" ? f32ToF16 : f32ToBf16;
    for (let i = 0; i < u.length; i++) u[i] = conv(W[i]!);
  }
  const mm = kind === "f32" ? k.matmulF32 : kind === "f16" ? k.matmulF16 : k.matmulBF16;
  return { run: (b) => mm.call(k, w, x, y, ROWS, COLS, b) };
}

/**
 * GOPS from the fastest of repeated runs for about `seconds`: the minimum is
 * the least disturbed by other processes on a shared machine.
 */
function gops(p: Prepared, batch: number, seconds: number): number {
  p.run(batch); // warm up (JIT tier-up, caches)
  let best = Infinity;
  const t0 = performance.now();
  let n = 0;
  while (n < 3 || performance.now() - t0 < seconds * 1000) {
    const t = performance.now();
    p.run(batch);
    best = Math.min(best, performance.now() - t);
    n++;
  }
  return (2 * ROWS * COLS * batch) / (best / 1000) / 1e9;
}

function forkJoinMicros(k: Kernels): number {
  // 1024 x 128 is just above the single-thread cut-off: mostly dispatch cost.
  const rows = 1024, cols = 128;
  const w = k.alloc(rows * cols * 4), x = k.alloc(cols * 4), y = k.alloc(rows * 4);
  for (let i = 0; i < 1000; i++) k.matmulF32(w, x, y, rows, cols, 1);
  let best = Infinity;
  for (let i = 0; i < 20000; i++) {
    const t = performance.now();
    k.matmulF32(w, x, y, rows, cols, 1);
    best = Math.min(best, performance.now() - t);
  }
  return best * 1000;
}

const fmt = (v: number) => v.toFixed(1).padStart(7);
const bytes = ROWS * COLS * 9 + 8 * BATCH * (ROWS + COLS) * 4 + (1 << 22);

console.log(
  `# kernels ${ROWS} x ${COLS}, GOPS (2 ops per multiply-add); batch ${BATCH} for prompt\n`,
);
console.log(
  `| backend | threads | ${KINDS.map((k) => `${k} mv`).join(" | ")} | ` +
    `${KINDS.map((k) => `${k} b${BATCH}`).join(" | ")} | tiny job µs |`,
);
console.log(`|---|---|${"---|".repeat(KINDS.length * 2 + 1)}`);

if (!Deno.args.includes("--no-reference")) {
  const ref = createReferenceKernels(bytes);
  const row: string[] = [];
  for (const kind of KINDS) row.push(fmt(gops(prepare(ref, kind), 1, 0.2)));
  console.log(`| reference | 1 | ${row.join(" | ")} | ${KINDS.map(() => "").join(" | ")} | |`);
}

const only = (name: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const variants = (relaxedSimdSupported() ? ["relaxed", "portable"] as const : ["portable"] as const)
  .filter((v) => (only("simd") ?? v) === v);
const threadCounts = [1, 2].filter((t) => Number(only("threads") ?? t) === t);
for (const simd of variants) {
  for (const threads of threadCounts) {
    const k = await createWasmKernels({ bytes, threads, simd });
    try {
      const mv: string[] = [], mm: string[] = [];
      for (const kind of KINDS) {
        const p = prepare(k, kind);
        mv.push(fmt(gops(p, 1, SECONDS)));
        mm.push(fmt(gops(p, BATCH, SECONDS)));
      }
      const fj = threads > 1 ? forkJoinMicros(k).toFixed(1) : "";
      console.log(`| ${k.name} | ${threads} | ${mv.join(" | ")} | ${mm.join(" | ")} | ${fj} |`);
    } finally {
      k.close();
    }
  }
}
