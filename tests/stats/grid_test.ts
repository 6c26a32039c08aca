import assert from "node:assert/strict";
import { f32ToBf16 } from "../../lib/codecs/float.ts";
import { countDistinct, lowBitGrid } from "../../lib/stats/grid.ts";
import { median } from "../../lib/stats/summary.ts";

const bf16 = (x: number) => new Float32Array(new Uint32Array([f32ToBf16(x) << 16]).buffer)[0]!;

Deno.test("countDistinct: 0 and -0 are one value, NaNs one value, cap respected", () => {
  assert.equal(countDistinct([1, 1, 0, -0, 2]), 3);
  assert.equal(countDistinct(new Float32Array([NaN, NaN, 1])), 2);
  assert.equal(countDistinct(Float32Array.from({ length: 100 }, (_, i) => i), 10), 10);
  assert.equal(countDistinct([]), 0);
});

Deno.test("lowBitGrid: ternary values are on a level-1 grid", () => {
  const g = lowBitGrid(new Float32Array([0.5, 0, -0.5, 0.5, 0.5]));
  assert.equal(g.onGrid, true);
  assert.equal(g.levels, 1);
});

Deno.test("lowBitGrid: a constant vector (absmean-ternarized gamma) is on the grid", () => {
  assert.equal(lowBitGrid(new Float32Array(256).fill(1.0123)).levels, 1);
});

Deno.test("lowBitGrid: per-block 4-bit grids with different steps are detected", () => {
  // Two blocks of 32: block 0 on k*0.1 (|k| <= 7), block 1 on k*0.37 (|k| <= 3).
  const v = new Float32Array(64);
  for (let i = 0; i < 32; i++) v[i] = ((i % 15) - 7) * 0.1;
  for (let i = 32; i < 64; i++) v[i] = ((i % 7) - 3) * 0.37;
  const g = lowBitGrid(v);
  assert.equal(g.onGrid, true);
  assert.equal(g.levels, 7);
  // With maxLevel 4 the first block no longer fits.
  const g4 = lowBitGrid(v, { maxLevel: 4 });
  assert.equal(g4.onGrid, false);
  assert.equal(g4.firstOffGridBlock, 0);
});

Deno.test("lowBitGrid: genuine-looking BF16 gammas are not on a grid", () => {
  // Like the fixture's trained norms: values around 1 with about 20-40 distinct BF16 values.
  const v = Float32Array.from(
    { length: 256 },
    (_, i) => bf16(0.95 + 0.13 * ((i * 37) % 101) / 100),
  );
  assert.ok(countDistinct(v) > 10);
  assert.equal(lowBitGrid(v).onGrid, false);
  // Like BitNet 2B-4T's attn_norm: 0.012 to 0.027.
  const small = Float32Array.from(
    { length: 2560 },
    (_, i) => bf16(0.012 + 0.015 * ((i * 53) % 97) / 96),
  );
  assert.equal(lowBitGrid(small).onGrid, false);
});

Deno.test("lowBitGrid: non-finite values are never on a grid; zeros are", () => {
  assert.equal(lowBitGrid(new Float32Array([1, NaN])).onGrid, false);
  assert.equal(lowBitGrid(new Float32Array([1, Infinity])).onGrid, false);
  assert.deepEqual(lowBitGrid(new Float32Array(64)), {
    onGrid: true,
    levels: 0,
    blockSize: 32,
    firstOffGridBlock: null,
  });
});

Deno.test("lowBitGrid: values re-rounded to BF16 after quantization stay on the grid", () => {
  const d = 0.1373;
  const v = Float32Array.from({ length: 32 }, (_, i) => bf16(((i % 17) - 8) * d));
  assert.equal(lowBitGrid(v).onGrid, true);
});

Deno.test("median", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(median([NaN, 1, 3]), 2);
});
