import assert from "node:assert/strict";
import {
  AbsmeanAccumulator,
  absmeanScale,
  ternarizeAbsmean,
  ternaryInfo,
  tritsFromTernary,
} from "../../lib/codecs/ternary.ts";
import { NotTernaryError } from "../../lib/errors.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";

Deno.test("absmeanScale: mean of |W| computed by hand", () => {
  // |0.5| + |-0.25| + |0.75| + |0| = 1.5; 1.5 / 4 = 0.375 (exact in f32)
  assert.equal(absmeanScale(new Float32Array([0.5, -0.25, 0.75, 0])), 0.375);
  // (1 + 2 + 3) / 3 = 2
  assert.equal(absmeanScale(new Float32Array([1, -2, 3])), 2);
});

Deno.test("absmeanScale: result is a float32 value (fround of the float64 mean)", () => {
  // (0.1f + 0.2f) / 2 is not a float32; the scale must be its float32 rounding.
  const w = new Float32Array([0.1, 0.2]);
  const exact = (w[0]! + w[1]!) / 2; // float64 sum of two f32 is exact here
  const s = absmeanScale(w);
  assert.equal(s, Math.fround(exact));
  assert.equal(Math.fround(s), s);
});

Deno.test("absmeanScale: floor at float32(1e-5)", () => {
  assert.equal(absmeanScale(new Float32Array([0, 0, 0])), Math.fround(1e-5));
  assert.equal(absmeanScale(new Float32Array([1e-7, -1e-7])), Math.fround(1e-5));
});

Deno.test("absmeanScale: empty or non-finite tensors are refused", () => {
  assert.throws(() => absmeanScale(new Float32Array(0)), NotTernaryError);
  assert.throws(() => absmeanScale(new Float32Array([1, NaN])), NotTernaryError);
  assert.throws(() => absmeanScale(new Float32Array([1, Infinity])), NotTernaryError);
});

Deno.test("AbsmeanAccumulator: streaming rows gives the whole-tensor scale", () => {
  const rnd = mulberry32(7);
  const w = new Float32Array(4096).map(() => (rnd() - 0.5) * 3);
  const acc = new AbsmeanAccumulator();
  for (let r = 0; r < 16; r++) acc.add(w.subarray(r * 256, (r + 1) * 256));
  assert.equal(acc.count, 4096);
  // The order of float64 partial sums can differ by far less than a float32 ulp.
  assert.equal(acc.scale(), absmeanScale(w));
});

Deno.test("ternarizeAbsmean: hand-computed trits", () => {
  // s = (1 + 2 + 3 + 0.5) / 4 = 1.625; ratios 0.615, -1.23, 1.846, 0.308
  const { trits, scale } = ternarizeAbsmean(new Float32Array([1, -2, 3, 0.5]));
  assert.equal(scale, 1.625);
  assert.deepEqual([...trits], [1, -1, 1, 0]);
});

Deno.test("ternarizeAbsmean: exact ties round half to even, then clamp", () => {
  const s = 2; // given scale; every ratio below is exact in float32
  const w = new Float32Array([1, -1, 3, -3, 5, -5, 0, -0, 1.0000001, -0.9999999]);
  // ratios: 0.5 → 0, -0.5 → -0 → 0, 1.5 → 2 → 1, -1.5 → -1, 2.5 → 2 → 1, -2.5 → -1,
  //         0 → 0, -0 → 0, 0.50000006 → 1, -0.49999997 → 0
  const { trits } = ternarizeAbsmean(w, s);
  assert.deepEqual([...trits], [0, 0, 1, -1, 1, -1, 0, 0, 1, 0]);
  // Math.round would have sent 0.5 to 1 — the bug this guards against.
  assert.equal(Math.round(0.5), 1);
});

Deno.test("ternarizeAbsmean: ties at exactly ±0.5·s with a non-trivial float32 scale", () => {
  const s = Math.fround(0.0123);
  const half = Math.fround(s / 2); // halving is exact, so w/s is exactly 0.5
  assert.equal(half / s, 0.5);
  const above = new Float32Array([half]);
  new Uint32Array(above.buffer)[0]! += 1; // next float32 above s/2
  const w = new Float32Array([half, -half, above[0]!, -above[0]!]);
  const { trits } = ternarizeAbsmean(w, s);
  assert.deepEqual([...trits], [0, 0, 1, -1]);
});

Deno.test("ternarizeAbsmean: matches the formula on random data (seeded)", () => {
  const rnd = mulberry32(42);
  const w = new Float32Array(10000).map(() => (rnd() - 0.5) * 0.2);
  const { trits, scale } = ternarizeAbsmean(w);
  let sum = 0;
  for (const v of w) sum += Math.abs(v);
  assert.equal(scale, Math.fround(sum / w.length));
  const counts = [0, 0, 0];
  for (let i = 0; i < w.length; i++) {
    const r = w[i]! / scale;
    const expected = r > 0.5 ? 1 : r < -0.5 ? -1 : 0; // no exact ties in this data
    assert.equal(trits[i], expected, `element ${i}`);
    counts[trits[i]! + 1]!++;
  }
  // Uniform weights: |r| > 0.5 for 3/4 of the values (|w| uniform on [0, 2·mean]).
  assert.ok(counts[1]! > 2000 && counts[1]! < 3000, `zeros ${counts[1]}`);
});

Deno.test("ternarizeAbsmean: bad scale or NaN element is refused", () => {
  assert.throws(() => ternarizeAbsmean(new Float32Array([1]), 0), NotTernaryError);
  assert.throws(
    () => ternarizeAbsmean(new Float32Array([1, NaN]), 1, "blk.0.attn_q.weight"),
    (e: unknown) =>
      e instanceof NotTernaryError && /blk\.0\.attn_q\.weight: element 1 is NaN/.test(e.message),
  );
});

Deno.test("ternaryInfo: a ternary tensor", () => {
  assert.deepEqual(ternaryInfo([0.25, 0, -0.25, 0.25, -0]), {
    ternary: true,
    scale: 0.25,
    neg: 1,
    zero: 2,
    pos: 2,
    distinct: 3,
  });
  assert.deepEqual(ternaryInfo(new Float32Array([-3, 3])), {
    ternary: true,
    scale: 3,
    neg: 1,
    zero: 0,
    pos: 1,
    distinct: 2,
  });
  assert.deepEqual(ternaryInfo([-0.5]), {
    ternary: true,
    scale: 0.5,
    neg: 1,
    zero: 0,
    pos: 0,
    distinct: 1,
  });
});

Deno.test("ternaryInfo: all zeros is ternary with scale 0", () => {
  assert.deepEqual(ternaryInfo(new Float32Array(5)), {
    ternary: true,
    scale: 0,
    neg: 0,
    zero: 5,
    pos: 0,
    distinct: 1,
  });
});

Deno.test("ternaryInfo: non-ternary tensors", () => {
  // two magnitudes
  let info = ternaryInfo([0.5, -0.25, 0]);
  assert.equal(info.ternary, false);
  assert.equal(info.scale, 0);
  assert.equal(info.distinct, 3);
  // four distinct values: distinct stops at 4, sign counts continue over everything
  info = ternaryInfo([1, 2, 3, 4, 5, -6, 0]);
  assert.deepEqual(info, { ternary: false, scale: 0, neg: 1, zero: 1, pos: 5, distinct: 4 });
  // {s, -t}: same count of values but different magnitudes
  assert.equal(ternaryInfo([0.5, -0.5000001]).ternary, false);
  // NaN and infinity never make a tensor ternary
  assert.equal(ternaryInfo([NaN, 0]).ternary, false);
  assert.equal(ternaryInfo([Infinity, -Infinity, 0]).ternary, false);
  // empty: nothing to scale
  assert.deepEqual(ternaryInfo([]), {
    ternary: true,
    scale: 0,
    neg: 0,
    zero: 0,
    pos: 0,
    distinct: 0,
  });
});

Deno.test("ternaryInfo + tritsFromTernary round-trip ternarized values", () => {
  const rnd = mulberry32(3);
  const w = new Float32Array(2048).map(() => rnd() - 0.5);
  const { trits, scale } = ternarizeAbsmean(w);
  const values = Float32Array.from(trits, (t) => t * scale);
  const info = ternaryInfo(values);
  assert.equal(info.ternary, true);
  assert.equal(info.scale, scale);
  assert.equal(info.neg + info.zero + info.pos, 2048);
  assert.deepEqual(tritsFromTernary(values, info.scale), trits);
});

Deno.test("tritsFromTernary: exact matches only", () => {
  assert.deepEqual([...tritsFromTernary([0.5, 0, -0.5, -0], 0.5)], [1, 0, -1, 0]);
  assert.deepEqual([...tritsFromTernary([0, 0], 0)], [0, 0]);
  assert.throws(
    () => tritsFromTernary([0.5, 0.25], 0.5, "w"),
    (e: unknown) => e instanceof NotTernaryError && /w: element 1 = 0.25/.test(e.message),
  );
  assert.throws(() => tritsFromTernary([1], 0), NotTernaryError);
});

Deno.test("ternarizeAbsmean: the comparison form equals the division form at and around every boundary", async () => {
  const { ternarizeAbsmean } = await import("../../lib/codecs/ternary.ts");
  const { ternarizeAbsmeanByDivision } = await import("./_division.ts");
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const next = (x: number, d: number) => {
    f[0] = x;
    u[0] = u[0]! + (x >= 0 ? d : -d);
    return f[0]!;
  };
  let rng = 12345;
  const rand = () => (rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let trial = 0; trial < 2000; trial++) {
    const s = Math.fround(2 ** (rand() * 40 - 30) * (1 + rand()));
    const values: number[] = [];
    for (const b of [0.5, -0.5, 1.5, -1.5, 1, -1]) {
      const at = Math.fround(b * s);
      for (let d = -3; d <= 3; d++) values.push(next(at, d));
    }
    const w = new Float32Array(values);
    assert.deepEqual(
      ternarizeAbsmean(w, s).trits,
      ternarizeAbsmeanByDivision(w, s).trits,
      `s = ${s}`,
    );
  }
});
