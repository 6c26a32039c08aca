/**
 * In-process A/B of the ternary kernel: the relaxed-SIMD module assembled from
 * a git revision's `kernels.wat` (the base, default `main`) against the one
 * assembled from the working tree's, on the BitNet 2B shapes (2560 × 2560,
 * 6912 × 2560, 2560 × 6912), at 1 and 2 threads. Both run in one process, in
 * alternating rounds; each side keeps its best time per shape, so that a
 * machine shared with other processes disturbs both alike. Prints GB/s of
 * packed weights read (rows · cols / 4 bytes per product) and new ÷ base.
 * Also checks that both sides give the same bits on every shape.
 *
 * @example
 * ```sh
 * deno run -A bench/ternary_ab_bench.ts                      # base: main
 * deno run -A bench/ternary_ab_bench.ts --base HEAD~1 --rounds 15 --batch 1
 * deno run -A bench/ternary_ab_bench.ts --shapes 2560x2560 --layers 8   # + 8 layers from DRAM
 * deno run -A bench/ternary_ab_bench.ts --op score --threads 1            # int8 head screening
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import type { Kernels } from "../lib/inference/kernels/api.ts";
import { assembleKernels } from "../lib/inference/kernels/assemble.ts";
import { createWasmKernels } from "../lib/inference/kernels/wasm.ts";
import { int8HeadCopyBytes } from "../lib/inference/int8_head.ts";
import { mulberry32 } from "../lib/inference/sampler.ts";
import { LAYER_2B, RandomTrits, ternaryProduct } from "./_ternary_products.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    base: { type: "string", default: "main" },
    rounds: { type: "string", default: "9" },
    reps: { type: "string", default: "5" },
    batch: { type: "string", default: "1" },
    threads: { type: "string", default: "1,2" },
    shapes: { type: "string" },
    op: { type: "string", default: "ternary" },
    layers: { type: "string", default: "0" },
  },
});
const ROUNDS = Number(values.rounds), REPS = Number(values.reps), BATCH = Number(values.batch);
/** ternary: the 2B projections; score: the int8 head's screening (vocabulary rows × hidden). */
const OP = values.op === "score" ? "score" : "ternary";
const SHAPES = (values.shapes ?? (OP === "score" ? "32768x2560" : "2560x2560,6912x2560,2560x6912"))
  .split(",").map((s) => s.split("x").map(Number) as [number, number]);
/**
 * With --layers N (ternary): one more entry running the 7 products of N 2B layers in a row
 * (LAYER_2B), each matrix its own memory, so that the weights stream from DRAM as in a
 * generated token.
 */
const LAYERS = OP === "ternary" ? Number(values.layers) : 0;
/** Bytes of weights a product reads per element. */
const BYTES_PER_WEIGHT = OP === "score" ? 1 : 0.25;
const WAT = "lib/inference/kernels/kernels.wat";

async function baseWat(rev: string): Promise<string> {
  const out = await new Deno.Command("git", { args: ["show", `${rev}:${WAT}`] }).output();
  if (!out.success) throw new Error(`git show ${rev}:${WAT} failed`);
  return new TextDecoder().decode(out.stdout);
}

const SEED = 7;
let rnd = mulberry32(SEED);

/** What one entry of the table runs: a label, the weight bytes it reads, its run and outputs. */
interface Entry {
  label: string;
  bytes: number;
  run: () => void;
  out: () => Uint8Array;
}

/** One side's kernels with every entry's weights and activations in place. */
async function side(module: WebAssembly.Module, threads: number) {
  const all = [...SHAPES, ...Array.from({ length: LAYERS }, () => LAYER_2B).flat()];
  let bytes = 1 << 22;
  for (const [r, c] of all) bytes += r * c * BYTES_PER_WEIGHT + 4 * BATCH * (r + c) * 2 + 64;
  const k: Kernels = await createWasmKernels({ bytes, threads, simd: "relaxed", module });
  rnd = mulberry32(SEED); // both sides get the same data
  const trits = new RandomTrits(rnd);
  const make = (rows: number, cols: number) =>
    OP === "score" ? scoreRun(k, rows, cols) : ternaryProduct(k, trits, rnd, rows, cols, BATCH);
  const entries: Entry[] = SHAPES.map(([rows, cols]) => ({
    label: `${rows} x ${cols}`,
    bytes: rows * cols * BYTES_PER_WEIGHT,
    ...make(rows, cols),
  }));
  if (LAYERS > 0) {
    const runs = Array.from({ length: LAYERS }, () => LAYER_2B.map(([r, c]) => make(r, c))).flat();
    entries.push({
      label: `${LAYERS} layers x 7 products`,
      bytes: LAYERS * LAYER_2B.reduce((a, [r, c]) => a + r * c * BYTES_PER_WEIGHT, 0),
      run: () => runs.forEach((p) => p.run()),
      out: () => runs[runs.length - 1]!.out(),
    });
  }
  return { k, entries };
}

/**
 * The int8 head's screening: random int8 rows (the interleaved copy: any bytes within ±127
 * are a valid one) times one int8 activation row. Both sides must take the same layout.
 */
function scoreRun(k: Kernels, rows: number, cols: number) {
  const bytes = int8HeadCopyBytes(rows, cols);
  const w = k.alloc(bytes), x = k.alloc(cols), y = k.alloc(rows * 4);
  const W = k.i8(w, bytes);
  for (let i = 0; i < W.length; i++) W[i] = Math.floor(rnd() * 255) - 127;
  const X = k.i8(x, cols);
  for (let c = 0; c < cols; c++) X[c] = Math.floor(rnd() * 255) - 127;
  const run = () => k.scoreRowsI8(w, x, y, rows, cols);
  return { run, out: () => new Uint8Array(k.i32(y, rows).slice().buffer) };
}

function best(run: () => void): number {
  let b = Infinity;
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    run();
    b = Math.min(b, performance.now() - t0);
  }
  return b;
}

const wats = { base: await baseWat(values.base), new: await Deno.readTextFile(WAT) };
const relaxedModule = async (wat: string) =>
  await WebAssembly.compile((await assembleKernels(wat)).relaxed as Uint8Array<ArrayBuffer>);
const modules = { base: await relaxedModule(wats.base), new: await relaxedModule(wats.new) };
const load = () => Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
console.log(`# ${OP} A/B: base ${values.base} vs working tree, batch ${BATCH}, ${ROUNDS} rounds`);
console.log(`load average at start: ${load()}`);
console.log("| threads | product | base GB/s | new GB/s | new/base | same bits |");
console.log("|---|---|---|---|---|---|");
for (const threads of values.threads.split(",").map(Number)) {
  const a = await side(modules.base, threads), b = await side(modules.new, threads);
  try {
    const ta = a.entries.map(() => Infinity), tb = a.entries.map(() => Infinity);
    for (let r = 0; r < ROUNDS; r++) {
      a.entries.forEach((_, i) => {
        const first = r % 2 ? b : a, second = r % 2 ? a : b;
        const t1 = best(first.entries[i]!.run), t2 = best(second.entries[i]!.run);
        const [tA, tB] = r % 2 ? [t2, t1] : [t1, t2];
        ta[i] = Math.min(ta[i]!, tA);
        tb[i] = Math.min(tb[i]!, tB);
      });
    }
    a.entries.forEach((e, i) => {
      const gb = (ms: number) => (e.bytes / 1e9 / (ms / 1000)).toFixed(2);
      const oa = e.out(), ob = b.entries[i]!.out();
      const same = oa.length === ob.length && oa.every((v, j) => v === ob[j]);
      console.log(
        `| ${threads} | ${e.label} | ${gb(ta[i]!)} | ${gb(tb[i]!)} | ` +
          `${(ta[i]! / tb[i]!).toFixed(3)} | ${same ? "yes" : "NO"} |`,
      );
    });
  } finally {
    a.k.close();
    b.k.close();
  }
}
console.log(`load average at end: ${load()}`);
