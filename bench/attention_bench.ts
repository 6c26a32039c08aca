/**
 * One generated token's attention on the 2B-4T shape (20 query heads, 5 KV heads,
 * head size 128) at a given context length, 30 layers, 1 thread: the TypeScript
 * `attendInMemory` (attention.ts) against the WebAssembly backend's
 * `Kernels.attention` (attention_wasm.ts), in one process, alternating, best of
 * N each. Also checks that both give the same bits.
 *
 * @example
 * ```sh
 * deno run -A bench/attention_bench.ts --positions 16,48,96 --rounds 9
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { attendInMemory } from "../lib/inference/attention.ts";
import { createWasmKernels } from "../lib/inference/kernels/wasm.ts";
import { mulberry32 } from "../lib/inference/sampler.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    positions: { type: "string", default: "16,48,96" },
    rounds: { type: "string", default: "9" },
  },
});
const SHAPE = { nHead: 20, nHeadKv: 5, headDim: 128 };
const LAYERS = 30, ROUNDS = Number(values.rounds);
const qDim = SHAPE.nHead * SHAPE.headDim, kvDim = SHAPE.nHeadKv * SHAPE.headDim;

const k = await createWasmKernels({ bytes: 64 << 20, threads: 1 });
const uniform = mulberry32(5);
const rnd = () => uniform() * 2 - 1;
console.log(`load average at start: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
console.log("| positions | TypeScript ms/token | WebAssembly ms/token | ratio | same bits |");
console.log("|---|---|---|---|---|");
for (const positions of values.positions.split(",").map(Number)) {
  const layers = Array.from({ length: LAYERS }, () => {
    const q = k.alloc(qDim * 4), out = k.alloc(qDim * 4);
    const keys = k.alloc(positions * kvDim * 4), vals = k.alloc(positions * kvDim * 4);
    for (const [p, n] of [[q, qDim], [keys, positions * kvDim], [vals, positions * kvDim]]) {
      const f = k.f32(p!, n!);
      for (let i = 0; i < f.length; i++) f[i] = rnd();
    }
    return { q, keys, values: vals, out, pos0: positions - 1, batch: 1 };
  });
  const scores = new Float64Array(positions);
  const ts = () => {
    for (const o of layers) attendInMemory(k.buffer, SHAPE, o, 0, SHAPE.nHead, scores);
  };
  const wasm = () => {
    for (const o of layers) k.attention(SHAPE, o);
  };
  const time = (f: () => void) => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  ts(), wasm(); // warm-up
  let bestTs = Infinity, bestWasm = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2) bestWasm = Math.min(bestWasm, time(wasm)), bestTs = Math.min(bestTs, time(ts));
    else bestTs = Math.min(bestTs, time(ts)), bestWasm = Math.min(bestWasm, time(wasm));
  }
  ts();
  const want = layers.map((o) => k.f32(o.out, qDim).slice());
  wasm();
  const same = layers.every((o, i) =>
    k.f32(o.out, qDim).every((v, j) => Object.is(v, want[i]![j]))
  );
  console.log(
    `| ${positions} | ${bestTs.toFixed(3)} | ${bestWasm.toFixed(3)} | ` +
      `${(bestTs / bestWasm).toFixed(2)} | ${same ? "yes" : "NO"} |`,
  );
}
k.close();
