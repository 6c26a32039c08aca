/**
 * Throughput of the bulk float converters over 64 MB of BF16 weights (32 Mi
 * elements, the size of a large embedding): BF16 → F16 (the export's hot path,
 * with overflow counting), BF16 → F32, F16 → F32, and the F32 → F16 / BF16
 * directions over 64 MB of F32. Divide 64 MB by the reported time for GB/s.
 *
 * Run: `deno bench bench/float_bulk_bench.ts`
 *
 * @module
 */

import { bf16ToF32, f32ToF16 } from "../lib/codecs/float.ts";
import {
  bf16ToF16Array,
  bf16ToF32Array,
  f16ToF32Array,
  f32ToBf16Array,
  f32ToF16Array,
} from "../lib/codecs/float_bulk.ts";
import { mulberry32 } from "../lib/inference/sampler.ts";

const BYTES = 64 << 20;
const N16 = BYTES / 2;
const N32 = BYTES / 4;

// Weight-like values: mostly small, a few large, like a trained checkpoint.
const rand = mulberry32(1234);
const f32 = new Float32Array(N32);
for (let i = 0; i < N32; i++) f32[i] = (rand() - 0.5) * (rand() < 0.001 ? 200 : 0.1);
const bf16 = new Uint16Array(N16);
f32ToBf16Array(f32, bf16.subarray(0, N32));
bf16.copyWithin(N32, 0, N32);
const f16 = new Uint16Array(N16);
bf16ToF16Array(bf16, f16, "refuse");

const outF16 = new Uint16Array(N16);
const outF32 = new Float32Array(N16);
const outF16Half = new Uint16Array(N32);

Deno.bench("bf16 → f16, refuse (64 MB in)", { group: "bf16→f16", baseline: true }, () => {
  bf16ToF16Array(bf16, outF16, "refuse");
});

Deno.bench("bf16 → f16, clamp (64 MB in)", { group: "bf16→f16" }, () => {
  bf16ToF16Array(bf16, outF16, "clamp");
});

Deno.bench("bf16 → f16, unaligned view (64 MB in)", { group: "bf16→f16" }, () => {
  bf16ToF16Array(bf16.subarray(1), outF16.subarray(0, N16 - 1), "refuse");
});

Deno.bench("bf16 → f16, scalar float.ts per element (64 MB in)", { group: "bf16→f16" }, () => {
  for (let i = 0; i < N16; i++) outF16[i] = f32ToF16(bf16ToF32(bf16[i]!));
});

Deno.bench("bf16 → f32 (64 MB in)", { group: "to f32", baseline: true }, () => {
  bf16ToF32Array(bf16, outF32);
});

Deno.bench("f16 → f32 (64 MB in)", { group: "to f32" }, () => {
  f16ToF32Array(f16, outF32);
});

Deno.bench("f32 → f16 (64 MB in)", { group: "from f32", baseline: true }, () => {
  f32ToF16Array(f32, outF16Half);
});

Deno.bench("f32 → bf16 (64 MB in)", { group: "from f32" }, () => {
  f32ToBf16Array(f32, outF16Half);
});
