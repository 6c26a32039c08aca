/**
 * What native AVX2 kernels would give (issue 11's "what would close it"), measured rather than
 * guessed: the WebAssembly ternary product (`matmulTernary`, 1 thread) against a native AVX2 twin
 * of it (bench/native/ternary_avx2.c: same packed layout, same arithmetic, so the same bits),
 * called through `Deno.dlopen` on the same kernel memory, on the BitNet 2B shapes, for one token
 * (generation) and a batch (a prompt). Alternating rounds, best time per side. Needs `clang` and
 * `--allow-ffi`; never part of the product or the tests.
 *
 *   deno run -A bench/native_ternary_bench.ts [--batch 1,64] [--rounds 7] [--layers 30]
 *
 * `--layers N` adds, per batch size, the 7 products of N 2B layers in a row (q, k, v, o, gate,
 * up, down), each matrix its own memory: the weights stream from DRAM as in a generated token.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { createWasmKernels } from "../lib/inference/kernels/wasm.ts";
import { mulberry32 } from "../lib/inference/sampler.ts";
import { LAYER_2B, RandomTrits, ternaryProduct } from "./_ternary_products.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string", default: "1,64" },
    rounds: { type: "string", default: "7" },
    shapes: { type: "string", default: "2560x2560,6912x2560,2560x6912" },
    layers: { type: "string", default: "0" },
  },
});
const BATCHES = values.batch.split(",").map(Number);
const ROUNDS = Number(values.rounds);
const SHAPES = values.shapes.split(",").map((s) => s.split("x").map(Number) as [number, number]);
const LAYERS = Number(values.layers);

const dir = await Deno.makeTempDir({ prefix: "native-ternary-" });
try {
  const lib = join(dir, "libternary_avx2.so");
  const src = new URL("./native/ternary_avx2.c", import.meta.url).pathname;
  const cc = await new Deno.Command("clang", {
    args: ["-O2", "-mavx2", "-shared", "-fPIC", "-o", lib, src],
  }).output();
  if (!cc.success) throw new Error(`clang failed: ${new TextDecoder().decode(cc.stderr)}`);
  const native = Deno.dlopen(lib, {
    ternary_matmul: {
      parameters: [
        "pointer",
        "f64",
        "pointer",
        "pointer",
        "pointer",
        "pointer",
        "i32",
        "i32",
        "i32",
      ],
      result: "void",
    },
  });
  console.log(
    "| batch | product | WebAssembly G MAC/s | native AVX2 G MAC/s | native ÷ wasm | same bits |",
  );
  console.log("|---|---|---|---|---|---|");
  for (const batch of BATCHES) {
    const entries: Array<{ label: string; products: [number, number][] }> = SHAPES.map((
      [r, c],
    ) => ({ label: `${r} x ${c}`, products: [[r, c]] }));
    if (LAYERS > 0) {
      entries.push({
        label: `${LAYERS} layers x 7 products`,
        products: Array.from({ length: LAYERS }, () => LAYER_2B).flat(),
      });
    }
    for (const { label, products } of entries) {
      let bytes = 1 << 20;
      for (const [r, c] of products) bytes += r * c / 4 + batch * (c * 5 + r * 8) + 256;
      const k = await createWasmKernels({ bytes, threads: 1, simd: "relaxed" });
      try {
        const rnd = mulberry32(batch + products.length);
        const trits = new RandomTrits(rnd);
        const ptr = (p: number, n: number) => Deno.UnsafePointer.of(k.u8(p, n));
        const runs = products.map(([rows, cols]) => {
          const p = ternaryProduct(k, trits, rnd, rows, cols, batch);
          const yn = k.alloc(batch * rows * 4);
          const args = [
            ptr(p.w, k.ternaryBytes(rows, cols)),
            p.wScale,
            ptr(p.q, batch * cols),
            ptr(p.t, batch * 4),
            ptr(p.sum, batch * 4),
            ptr(yn, batch * rows * 4),
            rows,
            cols,
            batch,
          ] as const;
          return {
            wasm: p.run,
            native: () => native.symbols.ternary_matmul(...args),
            same: () => {
              const a = new Uint32Array(p.out().buffer);
              const b = new Uint32Array(k.f32(yn, batch * rows).slice().buffer);
              return a.every((v, i) => v === b[i]);
            },
          };
        });
        const runWasm = () => runs.forEach((r) => r.wasm());
        const runNative = () => runs.forEach((r) => r.native());
        runWasm();
        runNative();
        const same = runs.every((r) => r.same());
        let bw = Infinity, bn = Infinity;
        for (let r = 0; r < ROUNDS; r++) {
          let t0 = performance.now();
          runWasm();
          bw = Math.min(bw, performance.now() - t0);
          t0 = performance.now();
          runNative();
          bn = Math.min(bn, performance.now() - t0);
        }
        const macs = products.reduce((a, [r, c]) => a + r * c, 0) * batch;
        const gmac = (ms: number) => (macs / ms / 1e6).toFixed(1);
        console.log(
          `| ${batch} | ${label} | ${gmac(bw)} | ${gmac(bn)} | ${(bw / bn).toFixed(2)}× | ${
            same ? "yes" : "NO"
          } |`,
        );
      } finally {
        k.close();
      }
    }
  }
  native.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}
