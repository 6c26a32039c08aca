/**
 * Throughput of the ternary codecs on one 2B-4T FFN matrix (6912 × 2560 =
 * 17,694,720 elements): absmean ternarization, packing to I2_S / TQ2_0 /
 * TQ1_0, and unpacking.
 *
 * Run: `deno bench bench/ternary_codecs_bench.ts`
 *
 * @module
 */

import { absmeanScale, ternarizeAbsmean } from "../lib/codecs/ternary.ts";
import { packI2S, unpackI2S } from "../lib/codecs/i2s.ts";
import {
  blocksFromTrits,
  decodeBlocks,
  quantizeBlocks,
  TQ1_0_LAYOUT,
  TQ2_0_LAYOUT,
} from "../lib/codecs/ternary_blocks.ts";
import { mulberry32 } from "../lib/inference/sampler.ts";

const ROWS = 6912;
const COLS = 2560;
const N = ROWS * COLS;

const rnd = mulberry32(2560);
const weights = new Float32Array(N);
for (let i = 0; i < N; i++) weights[i] = (rnd() + rnd() + rnd() - 1.5) * 0.05;
const { trits, scale } = ternarizeAbsmean(weights);
const values = Float32Array.from(trits, (t) => t * scale);
const i2s = packI2S(trits, scale);
const tq2 = blocksFromTrits(TQ2_0_LAYOUT, trits, scale);
const tq1 = blocksFromTrits(TQ1_0_LAYOUT, trits, scale);

const opts = { n: 5, warmup: 1 } as const;

Deno.bench({
  name: "absmeanScale 6912x2560",
  group: "ternarize",
  ...opts,
  fn: () => {
    absmeanScale(weights);
  },
});
Deno.bench({
  name: "ternarizeAbsmean 6912x2560",
  group: "ternarize",
  ...opts,
  fn: () => {
    ternarizeAbsmean(weights, scale);
  },
});

Deno.bench({
  name: "packI2S 6912x2560",
  group: "pack",
  baseline: true,
  ...opts,
  fn: () => {
    packI2S(trits, scale);
  },
});
Deno.bench({
  name: "tq2_0FromTrits 6912x2560",
  group: "pack",
  ...opts,
  fn: () => {
    blocksFromTrits(TQ2_0_LAYOUT, trits, scale);
  },
});
Deno.bench({
  name: "tq1_0FromTrits 6912x2560",
  group: "pack",
  ...opts,
  fn: () => {
    blocksFromTrits(TQ1_0_LAYOUT, trits, scale);
  },
});
Deno.bench({
  name: "quantizeTQ2_0 (floats) 6912x2560",
  group: "pack",
  ...opts,
  fn: () => {
    quantizeBlocks(TQ2_0_LAYOUT, values);
  },
});
Deno.bench({
  name: "quantizeTQ1_0 (floats) 6912x2560",
  group: "pack",
  ...opts,
  fn: () => {
    quantizeBlocks(TQ1_0_LAYOUT, values);
  },
});

Deno.bench({
  name: "unpackI2S 6912x2560",
  group: "unpack",
  baseline: true,
  ...opts,
  fn: () => {
    unpackI2S(i2s, N);
  },
});
Deno.bench({
  name: "decodeTQ2_0 6912x2560",
  group: "unpack",
  ...opts,
  fn: () => {
    decodeBlocks(TQ2_0_LAYOUT, tq2, N);
  },
});
Deno.bench({
  name: "decodeTQ1_0 6912x2560",
  group: "unpack",
  ...opts,
  fn: () => {
    decodeBlocks(TQ1_0_LAYOUT, tq1, N);
  },
});
