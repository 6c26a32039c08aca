/**
 * The native kernels against the WebAssembly ones, product by product: the ternary product
 * (`matmulTernary`, one thread) of the default WebAssembly backend against the same backend
 * with the opt-in native library (lib/inference/kernels/native.ts, built here from the
 * checkout's source with the machine's C compiler), on the BitNet 2B shapes, for one token
 * (generation) and a batch (a prompt). The two backends hold the same products (same seeds);
 * every output must be the same bits. Alternating rounds, best time per side. Needs a C
 * compiler and `--allow-ffi`; never part of the tests.
 *
 *   deno run -A bench/native_ternary_bench.ts [--batch 1,64] [--rounds 7] [--layers 30] [--cc cc]
 *
 * `--layers N` adds, per batch size, the 7 products of N 2B layers in a row (q, k, v, o, gate,
 * up, down), each matrix its own memory: the weights stream from DRAM as in a generated token.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import type { Kernels } from "../lib/inference/kernels/api.ts";
import { buildNativeKernels, NATIVE_SOURCE } from "../lib/inference/kernels/native.ts";
import { createWasmKernels } from "../lib/inference/kernels/wasm.ts";
import { mulberry32 } from "../lib/inference/sampler.ts";
import { LAYER_2B, RandomTrits, type TernaryProduct, ternaryProduct } from "./_ternary_products.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string", default: "1,64" },
    rounds: { type: "string", default: "7" },
    shapes: { type: "string", default: "2560x2560,6912x2560,2560x6912" },
    layers: { type: "string", default: "0" },
    cc: { type: "string", default: "cc" },
  },
});
const BATCHES = values.batch.split(",").map(Number);
const ROUNDS = Number(values.rounds);
const SHAPES = values.shapes.split(",").map((s) => s.split("x").map(Number) as [number, number]);
const LAYERS = Number(values.layers);

/** The products of `shapes` in `k`, from the same seed on either backend. */
function products(k: Kernels, shapes: [number, number][], batch: number): TernaryProduct[] {
  const rnd = mulberry32(batch + shapes.length);
  const trits = new RandomTrits(rnd);
  return shapes.map(([rows, cols]) => ternaryProduct(k, trits, rnd, rows, cols, batch));
}

const dir = await Deno.makeTempDir({ prefix: "native-ternary-" });
try {
  const lib = join(dir, "libclean_gguf_native.so");
  await buildNativeKernels(NATIVE_SOURCE, lib, values.cc);
  console.log(
    "| batch | product | WebAssembly G MAC/s | native G MAC/s | native ÷ wasm | same bits |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const batch of BATCHES) {
    const entries: Array<{ label: string; shapes: [number, number][] }> = SHAPES.map((
      [r, c],
    ) => ({ label: `${r} x ${c}`, shapes: [[r, c]] }));
    if (LAYERS > 0) {
      entries.push({
        label: `${LAYERS} layers x 7 products`,
        shapes: Array.from({ length: LAYERS }, () => LAYER_2B).flat(),
      });
    }
    for (const { label, shapes } of entries) {
      let bytes = 1 << 20;
      for (const [r, c] of shapes) bytes += r * c / 4 + batch * (c * 5 + r * 8) + 256;
      const wasm = await createWasmKernels({ bytes, threads: 1, simd: "relaxed" });
      const native = await createWasmKernels({ bytes, threads: 1, simd: "relaxed", native: lib });
      try {
        const a = products(wasm, shapes, batch), b = products(native, shapes, batch);
        const runA = () => a.forEach((p) => p.run());
        const runB = () => b.forEach((p) => p.run());
        runA();
        runB();
        const same = a.every((p, i) => {
          const x = p.out(), y = b[i]!.out();
          return x.length === y.length && x.every((v, j) => v === y[j]);
        });
        let ba = Infinity, bb = Infinity;
        for (let r = 0; r < ROUNDS; r++) {
          let t0 = performance.now();
          runA();
          ba = Math.min(ba, performance.now() - t0);
          t0 = performance.now();
          runB();
          bb = Math.min(bb, performance.now() - t0);
        }
        const macs = shapes.reduce((s, [r, c]) => s + r * c, 0) * batch;
        const gmac = (ms: number) => (macs / ms / 1e6).toFixed(1);
        console.log(
          `| ${batch} | ${label} | ${gmac(ba)} | ${gmac(bb)} | ${(ba / bb).toFixed(2)}× | ${
            same ? "yes" : "NO"
          } |`,
        );
      } finally {
        wasm.close();
        native.close();
      }
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
