// The slab-by-slab ternary loader (lib/inference/ternary_stream.ts) against the general path:
// the same kernel bytes as packing the known trits, the same scale, on both backends; null (the
// general path) wherever it does not apply. Trits are made here, encoded by the codecs' own
// writers (f32ToF16, f32ToBf16, packI2S), never by the loader under test.

import assert from "node:assert/strict";
import { join } from "node:path";
import { f32ToBf16, f32ToF16 } from "../../lib/codecs/float.ts";
import { packI2S } from "../../lib/codecs/i2s.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import type { Kernels } from "../../lib/inference/kernels/api.ts";
import { createReferenceKernels } from "../../lib/inference/kernels/reference.ts";
import { createWasmKernels } from "../../lib/inference/kernels/wasm.ts";
import { streamTernary } from "../../lib/inference/ternary_stream.ts";
import { randomTrits } from "../_fuzz.ts";
import { type TensorToWrite, writeModelGguf } from "./_gguf_builder.ts";

const HP = {
  contextLength: 16,
  embeddingLength: 256,
  blockCount: 1,
  feedForwardLength: 256,
  headCount: 2,
  headCountKv: 2,
  rmsEps: 1e-5,
  ropeFreqBase: 10000,
  vocabSize: 8,
};

function halves(trits: Int8Array, scale: number, encode: (x: number) => number): Uint8Array {
  const out = Uint16Array.from(trits, (t) => encode(t * scale));
  return new Uint8Array(out.buffer);
}

interface Case {
  name: string;
  rows: number;
  cols: number;
  type: GgmlType;
  bytes: Uint8Array;
  trits: Int8Array;
  /** The scale the loader must return; null when it must decline. */
  scale: number | null;
}

function cases(): Case[] {
  const t6 = randomTrits(6 * 256, 1), t5 = randomTrits(5 * 384, 2);
  // Over 4 MiB of F16 (two slabs), the first slab all zero: s is found in the second.
  const big = randomTrits(1100 * 2048, 3);
  big.fill(0, 0, 1024 * 2048);
  const notTernary = halves(t6, 0.25, f32ToF16);
  notTernary[7] = 0x3c; // one value becomes something else than -s, 0, +s
  const badI2S = packI2S(t6, 0.5);
  badI2S[3] = 0xff; // codes 3
  // Several slabs of each half of the staging (read while the previous one is packed).
  const many = randomTrits(4500 * 2048, 4), late = randomTrits(1000 * 2048, 5);
  // Declined at its second slab while the third is being read (the loader waits for that read
  // before it returns); the next case, i2s_many, then reads through the same staging.
  const lateBits = halves(late, 0.25, f32ToF16);
  lateBits[2 * (300 * 2048 + 5) + 1] = 0x3c;
  return [
    {
      name: "f16_late_not_ternary",
      rows: 1000,
      cols: 2048,
      type: GgmlType.F16,
      trits: late,
      scale: null,
      bytes: lateBits,
    },
    {
      name: "i2s_many",
      rows: 4500,
      cols: 2048,
      type: GgmlType.I2_S,
      trits: many,
      scale: 0.5,
      bytes: packI2S(many, 0.5),
    },
    {
      name: "f16",
      rows: 6,
      cols: 256,
      type: GgmlType.F16,
      trits: t6,
      scale: 0.25,
      bytes: halves(t6, 0.25, f32ToF16),
    },
    {
      name: "bf16",
      rows: 5,
      cols: 384,
      type: GgmlType.BF16,
      trits: t5,
      scale: 0.5,
      bytes: halves(t5, 0.5, f32ToBf16),
    },
    {
      name: "f16_big",
      rows: 1100,
      cols: 2048,
      type: GgmlType.F16,
      trits: big,
      scale: 0.125,
      bytes: halves(big, 0.125, f32ToF16),
    },
    {
      name: "i2s",
      rows: 5,
      cols: 384,
      type: GgmlType.I2_S,
      trits: t5,
      scale: 0.75,
      bytes: packI2S(t5, 0.75),
    },
    {
      name: "f16_not_ternary",
      rows: 6,
      cols: 256,
      type: GgmlType.F16,
      trits: t6,
      scale: null,
      bytes: notTernary,
    },
    {
      name: "i2s_code3",
      rows: 6,
      cols: 256,
      type: GgmlType.I2_S,
      trits: t6,
      scale: null,
      bytes: badI2S,
    },
    {
      name: "f16_cols64",
      rows: 4,
      cols: 64,
      type: GgmlType.F16,
      trits: t6.subarray(0, 256),
      scale: null,
      bytes: halves(t6.subarray(0, 256), 0.25, f32ToF16),
    },
  ];
}

async function check(k: Kernels, path: string, all: Case[]): Promise<void> {
  const g = await openGguf(path);
  try {
    for (const c of all) {
      const size = k.ternaryBytes(c.rows, c.cols);
      const got = k.alloc(size), want = k.alloc(size);
      // The counts of the trits the loader gives a sink that takes them (validate's statistics;
      // several threads pack the larger I2_S slabs, each tallying its rows).
      let counts: { neg: number; zero: number; pos: number } | null = null;
      const sink = {
        bytes: () => {},
        ternary: (c: { neg: number; zero: number; pos: number }) => (counts = c),
      };
      const scale = await streamTernary(g, g.tensor(c.name), k, got, sink);
      assert.equal(scale, c.scale, `${k.name} ${c.name}: scale`);
      if (scale === null) continue;
      const tally = { neg: 0, zero: 0, pos: 0 };
      for (const t of c.trits) t < 0 ? tally.neg++ : t > 0 ? tally.pos++ : tally.zero++;
      const { neg, zero, pos } = counts!;
      assert.deepEqual({ neg, zero, pos }, tally, `${k.name} ${c.name}: counts`);
      k.packTernary(c.trits, c.rows, c.cols, want);
      assert.deepEqual(k.u8(got, size), k.u8(want, size), `${k.name} ${c.name}: kernel bytes`);
    }
  } finally {
    g.close();
  }
}

Deno.test("streamTernary: F16, BF16 and I2_S give the kernel bytes of their trits; other cases decline", async () => {
  const all = cases();
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "t.gguf");
    const tensors: TensorToWrite[] = all.map((c) => ({
      name: c.name,
      shape: [c.rows, c.cols],
      type: c.type,
      bytes: c.bytes,
    }));
    await writeModelGguf(path, { arch: "bitnet-b1.58", hparams: HP, tensors });
    await check(createReferenceKernels(1 << 25), path, all);
    for (const threads of [1, 2]) {
      const k = await createWasmKernels({ bytes: 1 << 25, threads });
      try {
        await check(k, path, all);
      } finally {
        k.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
