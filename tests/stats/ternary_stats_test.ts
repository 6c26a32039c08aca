import assert from "node:assert/strict";
import { TernaryAccumulator } from "../../lib/stats/ternary_stats.ts";

Deno.test("TernaryAccumulator: ternary across chunks, counts by sign", () => {
  const acc = new TernaryAccumulator();
  acc.addValues(new Float32Array([0.5, 0, -0.5]));
  acc.addValues(new Float32Array([0.5, 0.5]));
  acc.addValues(new Float32Array([0, 0]));
  assert.deepEqual(acc.result(), {
    ternary: true,
    scale: 0.5,
    distinctScales: 1,
    neg: 1,
    zero: 3,
    pos: 3,
    count: 7,
  });
});

Deno.test("TernaryAccumulator: chunks with different scales are not ternary", () => {
  const acc = new TernaryAccumulator();
  acc.addValues(new Float32Array([0.5, -0.5]));
  acc.addValues(new Float32Array([0.25, 0]));
  const r = acc.result();
  assert.equal(r.ternary, false);
  assert.equal(r.distinctScales, 2);
});

Deno.test("TernaryAccumulator: a chunk with a fourth value is not ternary", () => {
  const acc = new TernaryAccumulator();
  acc.addValues(new Float32Array([0.5, -0.5, 0, 0.2]));
  assert.equal(acc.result().ternary, false);
  assert.equal(acc.result().count, 4);
});

Deno.test("TernaryAccumulator: trits with block scales", () => {
  const acc = new TernaryAccumulator();
  const trits = Int8Array.from([1, -1, 0, 0, 1, 1]);
  acc.addTrits(trits, 2, 0, 3);
  acc.addTrits(trits, 2, 3, 6);
  assert.deepEqual(acc.result(), {
    ternary: true,
    scale: 2,
    distinctScales: 1,
    neg: 1,
    zero: 2,
    pos: 3,
    count: 6,
  });
  // An all-zero block's scale does not count; a different non-zero scale does.
  acc.addTrits(Int8Array.from([0, 0]), 7);
  assert.equal(acc.result().ternary, true);
  acc.addTrits(Int8Array.from([1]), 3);
  assert.equal(acc.result().ternary, false);
  assert.equal(acc.result().scale, 3);
});

Deno.test("TernaryAccumulator: all zero is ternary with scale 0; NaN scale is not", () => {
  const acc = new TernaryAccumulator();
  acc.addValues(new Float32Array(4));
  assert.equal(acc.result().ternary, true);
  assert.equal(acc.result().scale, 0);
  const bad = new TernaryAccumulator();
  bad.addTrits(Int8Array.from([1]), NaN);
  assert.equal(bad.result().ternary, false);
});
