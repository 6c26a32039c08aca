/**
 * The statistics model-verify recomputes (lib/provenance/tensor_stats.ts),
 * against sums written out in this test over values the test generated: the
 * float path (small tensors, bit for bit), the histogram path (F16 tensors of
 * more than 2^20 values: min, max and trit counts exact, the RMS within the
 * tolerance), and the trit-count path of I2_S and TQ2_0.
 */
import assert from "node:assert/strict";
import { f16ToF32, f32ToF16 } from "../../lib/codecs/float.ts";
import { packI2S } from "../../lib/codecs/i2s.ts";
import { packTrits } from "../../lib/codecs/table.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import {
  EXACT_RMS_ELEMENTS,
  recomputeStatistics,
  RMS_RELATIVE_TOLERANCE,
  rmsAgreement,
} from "../../lib/provenance/tensor_stats.ts";
import { FuzzRng, randomTrits } from "../_fuzz.ts";

/** Sequential float64 sums over the finite values, as the writers' accumulator does. */
function reference(values: ArrayLike<number>) {
  let n = 0, sumSq = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    n++;
    sumSq += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return { rms: Math.sqrt(sumSq / n), min, max };
}

function halfBits(values: Float32Array): Uint16Array {
  return Uint16Array.from(values, (v) => f32ToF16(v));
}

const BIG = EXACT_RMS_ELEMENTS + 4096; // past the bound: the histogram path

Deno.test("recomputeStatistics: F16 small (exact), F16 large (histogram), ternary F16, I2_S and TQ2_0 trit counts", async () => {
  const rng = new FuzzRng(14);
  const gauss = (n: number) =>
    Float32Array.from({ length: n }, () => (rng.u32() / 2 ** 32 - 0.5) * (rng.u32() / 2 ** 32) * 3);
  const small = halfBits(gauss(1000));
  small[7] = 0x7e00; // a NaN, left out of the figures as the writers leave it out
  const large = halfBits(gauss(BIG));
  const s = f16ToF32(f32ToF16(0.0343));
  const trits = randomTrits(BIG, 3);
  const ternary = Uint16Array.from(trits, (t) => f32ToF16(t * s));
  const i2sTrits = randomTrits(256 * 64, 5);
  const tq2Trits = randomTrits(256 * 64, 6);

  const w = new GgufWriter();
  w.addString("general.architecture", "llama");
  w.addTensorInfo("small", [1000], GgmlType.F16);
  w.addTensorInfo("large", [BIG], GgmlType.F16);
  w.addTensorInfo("ternary", [BIG], GgmlType.F16);
  w.addTensorInfo("i2s", [64, 256], GgmlType.I2_S);
  w.addTensorInfo("tq2", [64, 256], GgmlType.TQ2_0);
  const payloads = [
    new Uint8Array(small.buffer),
    new Uint8Array(large.buffer),
    new Uint8Array(ternary.buffer),
    packI2S(i2sTrits, 0.5),
    packTrits(GgmlType.TQ2_0, tq2Trits, s),
  ];
  const dir = await Deno.makeTempDir();
  const path = `${dir}/stats.gguf`;
  const chunks: Uint8Array[] = [];
  await w.write(
    { write: (c) => Promise.resolve(void chunks.push(c.slice())) },
    (_t, i) => payloads[i]!,
  );
  const file = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((o, c) => (file.set(c, o), o + c.length), 0);
  await Deno.writeFile(path, file);
  const gguf = await openGguf(path);
  try {
    const values = (bits: Uint16Array) => Float32Array.from(bits, (b) => f16ToF32(b));

    const a = (await recomputeStatistics(gguf, gguf.tensor("small")))!;
    const ra = reference(values(small));
    assert.deepEqual([a.summary.rms, a.summary.min, a.summary.max], [ra.rms, ra.min, ra.max]);
    assert.equal(a.summary.nonFinite, 1);
    assert.equal(a.ternaryRms, undefined);
    assert.equal(rmsAgreement(ra.rms, a), "exact");
    assert.equal(rmsAgreement(ra.rms * (1 + 2 ** -52), a), "differs", "one ulp off is caught");

    const b = (await recomputeStatistics(gguf, gguf.tensor("large")))!;
    const rb = reference(values(large));
    assert.deepEqual([b.summary.min, b.summary.max], [rb.min, rb.max]);
    assert.ok(Math.abs(b.summary.rms - rb.rms) <= 1e-12 * rb.rms, `${b.summary.rms} vs ${rb.rms}`);
    assert.notEqual(rmsAgreement(rb.rms, b), "differs");
    assert.equal(rmsAgreement(rb.rms * (1 + 10 * RMS_RELATIVE_TOLERANCE), b), "differs");

    // Ternary: the writers' s·sqrt(nonzero/n), counted here from the trits.
    const nonzero = trits.reduce((k, t) => k + (t !== 0 ? 1 : 0), 0);
    const c = (await recomputeStatistics(gguf, gguf.tensor("ternary")))!;
    assert.equal(c.ternaryRms, s * Math.sqrt(nonzero / BIG));
    assert.deepEqual([c.summary.min, c.summary.max, c.ternary.scale], [-s, s, s]);
    assert.equal(rmsAgreement(s * Math.sqrt(nonzero / BIG), c), "exact");

    for (const [name, t, scale] of [["i2s", i2sTrits, 0.5], ["tq2", tq2Trits, s]] as const) {
      const d = (await recomputeStatistics(gguf, gguf.tensor(name)))!;
      const nz = t.reduce((k, x) => k + (x !== 0 ? 1 : 0), 0);
      const negatives = t.reduce((k, x) => k + (x < 0 ? 1 : 0), 0);
      assert.equal(d.ternaryRms, scale * Math.sqrt(nz / t.length), name);
      assert.deepEqual(
        [d.ternary.neg, d.ternary.pos, d.ternary.scale, d.summary.min, d.summary.max],
        [negatives, nz - negatives, scale, -scale, scale],
        name,
      );
    }
  } finally {
    gguf.close();
    await Deno.remove(dir, { recursive: true });
  }
});
