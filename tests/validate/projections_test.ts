/**
 * Gate 2 on variants of the exported fixture: ternary-typed projections,
 * non-ternary or mis-scaled projections, non-finite weights, and a Llama
 * export.
 */

import assert from "node:assert/strict";
import { readBitnetEnv } from "../../lib/cli/env.ts";
import { packI2S } from "../../lib/codecs/i2s.ts";
import { ternaryInfo, tritsFromTernary } from "../../lib/codecs/ternary.ts";
import { packTrits } from "../../lib/codecs/table.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { readHparams } from "../../lib/arch/hparams.ts";
import { inspectProjections } from "../../lib/validate/projections.ts";
import { DEFAULT_RULES } from "../../lib/validate/rules.ts";
import { validateGguf } from "../../lib/validate/validate.ts";
import { writeRandomLlama } from "../_models.ts";
import { cleanFixture, rewriteGguf, scratchDir } from "./_variants.ts";

const PROJECTION = /^blk\.\d+\.(attn_[qkv]|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;
const STRICT = readBitnetEnv(new Map([["BITNET_STRICT_MODE", "1"]]));

async function gate2(path: string) {
  const g = await openGguf(path);
  try {
    return await inspectProjections({ gguf: g, hparams: readHparams(g), rules: DEFAULT_RULES });
  } finally {
    g.close();
  }
}

async function tempPath(name: string): Promise<string> {
  return `${await scratchDir("proj-")}/${name}`;
}

const failedIds = (
  checks: readonly { id: string; status: string }[],
) => [...new Set(checks.filter((c) => c.status === "fail").map((c) => c.id))];

Deno.test("gate 2: trit distributions of the clean export, counted independently", async () => {
  const clean = await cleanFixture();
  const r = await gate2(clean.ggufPath);
  assert.equal(r.gate.status, "pass");
  const g = await openGguf(clean.ggufPath);
  try {
    const t = g.tensor("blk.3.ffn_down.weight");
    const bits = new Uint16Array((await g.readTensor(t)).slice().buffer);
    // F16 bit patterns: sign bit set is -s, zero is 0, else +s.
    let neg = 0, zero = 0, pos = 0;
    for (const b of bits) {
      if ((b & 0x7fff) === 0) zero++;
      else if (b & 0x8000) neg++;
      else pos++;
    }
    const p = r.projections.find((x) => x.name === t.name)!;
    assert.deepEqual(p.trits, {
      neg: neg / bits.length,
      zero: zero / bits.length,
      pos: pos / bits.length,
    });
  } finally {
    g.close();
  }
});

for (
  const [label, type, pack] of [
    ["I2_S", GgmlType.I2_S, (trits: Int8Array, s: number) => packI2S(trits, s)],
    ["TQ2_0", GgmlType.TQ2_0, (trits: Int8Array, s: number) => packTrits(GgmlType.TQ2_0, trits, s)],
    ["TQ1_0", GgmlType.TQ1_0, (trits: Int8Array, s: number) => packTrits(GgmlType.TQ1_0, trits, s)],
  ] as const
) {
  Deno.test(`gate 2: ${label} projections decode with the same trits and scales`, async () => {
    const clean = await cleanFixture();
    const path = await tempPath(`${label}.gguf`);
    await rewriteGguf(clean.ggufPath, path, (t, v) => {
      if (!PROJECTION.test(t.name) || !v) return undefined;
      const info = ternaryInfo(v);
      return { bytes: pack(tritsFromTernary(v, info.scale), info.scale), type };
    });
    const [a, b] = [await gate2(clean.ggufPath), await gate2(path)];
    assert.equal(
      b.gate.status,
      "pass",
      JSON.stringify(b.gate.checks.filter((c) => c.status !== "pass")),
    );
    assert.equal(b.projections.length, 28);
    for (const p of b.projections) {
      const ref = a.projections.find((x) => x.name === p.name)!;
      assert.equal(p.type, label);
      assert.deepEqual(p.trits, ref.trits);
      // TQ types keep the scale as f16, I2_S as f32: the F16 file's scale is exact in both.
      assert.equal(p.scale, ref.scale);
    }
  });
}

Deno.test("an I2_S model passes every gate end to end", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("i2s.gguf");
  await rewriteGguf(clean.ggufPath, path, (t, v) => {
    if (!PROJECTION.test(t.name) || !v) return undefined;
    const info = ternaryInfo(v);
    return { bytes: packI2S(tritsFromTernary(v, info.scale), info.scale), type: GgmlType.I2_S };
  });
  const r = await validateGguf({ ggufPath: path, env: STRICT, metaPath: null });
  assert.equal(r.exitCode, 0, JSON.stringify(r.gates.filter((g) => g.status !== "pass")));
});

Deno.test("gate 2: an I2_S projection with the invalid code 3 fails to decode (13)", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("bad-i2s.gguf");
  await rewriteGguf(
    clean.ggufPath,
    path,
    (t) =>
      t.name === "blk.0.attn_v.weight"
        ? { bytes: new Uint8Array((64 * 256) / 4 + 32).fill(0xff), type: GgmlType.I2_S }
        : undefined,
  );
  const r = await gate2(path);
  assert.equal(r.gate.exitCode, 13);
  assert.deepEqual(failedIds(r.gate.checks), ["decode"]);
});

Deno.test("gate 2: a float projection that is not ternary (master weights) fails (13)", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("master.gguf");
  await rewriteGguf(
    clean.ggufPath,
    path,
    (t, v) =>
      t.name === "blk.1.attn_output.weight" && v
        ? { values: v.map((x, i) => x * (1 + (i % 5) * 0.1)) }
        : undefined,
  );
  const r = await gate2(path);
  assert.equal(r.gate.exitCode, 13);
  assert.deepEqual(failedIds(r.gate.checks), ["ternary"]);
  assert.match(
    r.gate.checks.find((c) => c.id === "ternary" && c.status === "fail")!.message,
    /blk\.1\.attn_output/,
  );
  assert.equal(r.projections.find((p) => p.name === "blk.1.attn_output.weight")!.trits, null);
});

Deno.test("gate 2: a block whose projection RMS departs from the others' median is flagged (13)", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("outlier.gguf");
  await rewriteGguf(
    clean.ggufPath,
    path,
    (
      t,
      v,
    ) => (t.name === "blk.2.ffn_gate.weight" && v ? { values: v.map((x) => x * 20) } : undefined),
  );
  const r = await gate2(path);
  assert.equal(r.gate.exitCode, 13);
  assert.deepEqual(failedIds(r.gate.checks), ["block_rms"]);
  assert.deepEqual(r.blocks.map((b) => b.flagged), [[], [], ["ffn_gate"], []]);
  // Still ternary: only the scale changed.
  assert.notEqual(r.projections.find((p) => p.name === "blk.2.ffn_gate.weight")!.trits, null);
});

Deno.test("gate 2: an all-zero projection and non-finite embeddings fail (13)", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("zero-nan.gguf");
  await rewriteGguf(clean.ggufPath, path, (t, v) => {
    if (!v) return undefined;
    if (t.name === "blk.0.ffn_up.weight") return { values: new Float32Array(v.length) };
    if (t.name === "token_embd.weight") return { values: v.map((x, i) => (i === 77 ? NaN : x)) };
    return undefined;
  });
  const r = await gate2(path);
  assert.equal(r.gate.exitCode, 13);
  // The zero tensor also departs from the other blocks' ffn_up RMS.
  assert.deepEqual(failedIds(r.gate.checks).sort(), ["block_rms", "finite", "ternary"]);
  assert.equal(r.tensors.find((t) => t.name === "token_embd.weight")!.nonFinite, 1);
});

Deno.test("a Llama export: float projections, untied output, generic envelopes pass gates 1-2", async () => {
  const dir = await scratchDir("llama-");
  const model = await writeRandomLlama(`${dir}/hf`, { seed: 3 });
  const out = await exportCleanGguf({ modelDir: model.dir, outDir: `${dir}/out`, quiet: true });
  const r = await validateGguf({ ggufPath: out.ggufPath, env: STRICT, skipProbe: true });
  assert.equal(r.model.family, "llama");
  assert.equal(r.exitCode, 0, JSON.stringify(r.gates.filter((g) => g.status === "fail")));
  assert.equal(r.norms.length, 2 * 2 + 1);
  assert.ok(r.projections.every((p) => p.trits === null && p.scale === null));
  assert.ok(r.tensors.some((t) => t.name === "output.weight"));
  assert.equal(r.norms[0]!.envelope.rmsMin, 0.5);
});
