/**
 * Gate 1 on variants of the exported fixture and on 2B-4T-like gammas.
 */

import assert from "node:assert/strict";
import { f32ToBf16, f32ToF16 } from "../../lib/codecs/float.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { readHparams } from "../../lib/arch/hparams.ts";
import { inspectNormsOfFile, judgeNorm } from "../../lib/validate/norms.ts";
import { DEFAULT_RULES } from "../../lib/validate/rules.ts";
import { cleanFixture, isNorm, rewriteGguf, scratchDir } from "./_variants.ts";

const bf16 = (x: number) => new Float32Array(new Uint32Array([f32ToBf16(x) << 16]).buffer)[0]!;

async function tempPath(name: string): Promise<string> {
  return `${await scratchDir("norms-")}/${name}`;
}

function byId(checks: readonly { id: string; status: string }[]): Record<string, string> {
  return Object.fromEntries(checks.map((c) => [c.id, c.status]));
}

Deno.test("gate 1 passes the clean export, comparing with meta.json", async () => {
  const clean = await cleanFixture();
  const r = await inspectNormsOfFile({ ggufPath: clean.ggufPath });
  assert.equal(r.gate.status, "pass");
  assert.equal(r.metaPath, clean.metaPath);
  assert.equal(r.norms.length, 17);
  for (const n of r.norms) {
    assert.equal(n.verdict, "healthy");
    assert.equal(byId(n.checks).meta_rms, "pass");
    assert.ok(n.meta!.relDiff <= n.meta!.tolerance);
  }
});

Deno.test("gate 1: a 4-bit per-block grid (Q4_0-like) with more than 3 distinct values is suspicious", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("q4.gguf");
  await rewriteGguf(clean.ggufPath, path, (t, v) => {
    if (!isNorm(t.name) || !v) return undefined;
    const out = new Float32Array(v.length);
    for (let b = 0; b < v.length; b += 32) {
      const block = v.subarray(b, b + 32);
      // Q4_0: d = max/-8, q = round(x/d) + 8 in 0..15; value (q - 8) * d, values near 1 land on levels 7-8.
      const max = block.reduce((m, x) => (Math.abs(x) > Math.abs(m) ? x : m), 0);
      const d = max / -8;
      for (let j = 0; j < block.length; j++) {
        const q = Math.min(15, Math.max(0, Math.round(block[j]! / d) + 8));
        out[b + j] = (q - 8) * d;
      }
    }
    return { values: out };
  });
  const r = await inspectNormsOfFile({ ggufPath: path, metaPath: null });
  assert.equal(r.gate.exitCode, 11);
  let sawManyDistinct = false;
  for (const n of r.norms) {
    const c = byId(n.checks);
    assert.equal(c.grid, "fail", n.name);
    assert.equal(c.envelope, "pass", n.name);
    if (n.distinct! > 3) {
      sawManyDistinct = true;
      assert.equal(c.distinct, "pass");
    }
  }
  assert.ok(sawManyDistinct, "the grid check, not the distinct count, caught some norms");
});

Deno.test("gate 1: a norm stored quantized (Q8_0) is suspicious", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("q8.gguf");
  await rewriteGguf(clean.ggufPath, path, (t, v) => {
    if (t.name !== "blk.1.ffn_norm.weight" || !v) return undefined;
    const bytes = new Uint8Array((v.length / 32) * 34);
    for (let b = 0; b < v.length / 32; b++) {
      const block = v.subarray(b * 32, b * 32 + 32);
      const d = block.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 127;
      const h = f32ToF16(d);
      bytes[b * 34] = h & 0xff;
      bytes[b * 34 + 1] = h >> 8;
      for (let j = 0; j < 32; j++) bytes[b * 34 + 2 + j] = Math.round(block[j]! / d) & 0xff;
    }
    return { bytes, type: GgmlType.Q8_0 };
  });
  const r = await inspectNormsOfFile({ ggufPath: path, metaPath: null });
  assert.equal(r.gate.exitCode, 11);
  const bad = r.norms.filter((n) => n.verdict !== "healthy");
  assert.deepEqual(bad.map((n) => n.name), ["blk.1.ffn_norm.weight"]);
  assert.equal(byId(bad[0]!.checks).storage, "fail");
  assert.equal(bad[0]!.type, "Q8_0");
  // Q8_0 keeps the values close: the statistics are still computed from the decoded values.
  assert.ok(Math.abs(bad[0]!.stats!.rms - 1.0009) < 0.01);
});

Deno.test("gate 1: some norms missing is 11; all norms zero or non-finite is 12", async () => {
  const clean = await cleanFixture();
  const missing = await tempPath("missing.gguf");
  await rewriteGguf(
    clean.ggufPath,
    missing,
    (t) => (t.name === "blk.2.attn_sub_norm.weight" ? null : undefined),
  );
  const r1 = await inspectNormsOfFile({ ggufPath: missing, metaPath: null });
  assert.equal(r1.gate.exitCode, 11);
  const present = r1.gate.checks.find((c) => c.id === "norms_present")!;
  assert.equal(present.status, "fail");
  assert.match(present.message, /blk\.2\.attn_sub_norm\.weight/);

  const dead = await tempPath("dead.gguf");
  await rewriteGguf(clean.ggufPath, dead, (t, v) => {
    if (!isNorm(t.name) || !v) return undefined;
    return { values: t.name.startsWith("blk.0") ? v.map(() => NaN) : new Float32Array(v.length) };
  });
  const r2 = await inspectNormsOfFile({ ggufPath: dead, metaPath: null });
  assert.equal(r2.gate.exitCode, 12);
  assert.ok(r2.norms.every((n) => n.verdict === "unusable"));
});

Deno.test("gate 1: meta.json RMS within F16 rounding passes; a payload digest change alone is a warning", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("f16-norms.gguf");
  // BF16 values are exact in F16 (range permitting): re-encoding keeps the RMS, changes the bytes.
  await rewriteGguf(
    clean.ggufPath,
    path,
    (t, v) => (isNorm(t.name) && v ? { values: v, type: GgmlType.F16 } : undefined),
  );
  const r = await inspectNormsOfFile({ ggufPath: path, metaPath: clean.metaPath });
  assert.equal(r.gate.status, "pass");
  for (const n of r.norms) {
    assert.equal(n.type, "F16");
    assert.equal(n.meta!.relDiff, 0);
    assert.equal(n.meta!.digestMatch, false);
    assert.equal(byId(n.checks).meta_digest, "warn");
  }
});

Deno.test("gate 1: an RMS off by more than F16 rounding from meta.json is suspicious", async () => {
  const clean = await cleanFixture();
  const path = await tempPath("nudged.gguf");
  await rewriteGguf(
    clean.ggufPath,
    path,
    (
      t,
      v,
    ) => (t.name === "output_norm.weight" && v ? { values: v.map((x) => x * 1.01) } : undefined),
  );
  const r = await inspectNormsOfFile({ ggufPath: path, metaPath: clean.metaPath });
  assert.equal(r.gate.exitCode, 11);
  const out = r.norms.find((n) => n.name === "output_norm.weight")!;
  assert.equal(byId(out.checks).meta_rms, "fail");
  assert.equal(byId(out.checks).envelope, "pass");
  assert.ok(Math.abs(out.meta!.relDiff - 0.01) < 1e-6);
});

Deno.test("gate 1: an unreadable meta.json or GGUF means the inspection could not run (10)", async () => {
  const clean = await cleanFixture();
  const dir = await scratchDir();
  await Deno.writeTextFile(`${dir}/bad.meta.json`, "{ not json");
  const r1 = await inspectNormsOfFile({
    ggufPath: clean.ggufPath,
    metaPath: `${dir}/bad.meta.json`,
  });
  assert.equal(r1.gate.exitCode, 10);
  await Deno.writeTextFile(
    `${dir}/rows.meta.json`,
    JSON.stringify({ tensors: [{ gguf_name: "x" }] }),
  );
  const r2 = await inspectNormsOfFile({
    ggufPath: clean.ggufPath,
    metaPath: `${dir}/rows.meta.json`,
  });
  assert.equal(r2.gate.exitCode, 10);
  assert.match(r2.gate.summary, /tensors\[0\]/);
  await Deno.writeFile(`${dir}/junk.gguf`, new Uint8Array(100));
  const r3 = await inspectNormsOfFile({ ggufPath: `${dir}/junk.gguf` });
  assert.equal(r3.gate.exitCode, 10);
});

Deno.test("judgeNorm: BitNet 2B-4T-like gammas (attn 0.012-0.027, ffn 1.1-1.6, sub 0.01-3.8) are healthy", async () => {
  const clean = await cleanFixture();
  const g = await openGguf(clean.ggufPath);
  try {
    const t = g.tensor("blk.0.attn_norm.weight");
    const hp = readHparams(g);
    assert.equal(hp.family, "bitnet");
    const cases: [string, "attn_norm" | "ffn_norm" | "attn_sub_norm", (i: number) => number][] = [
      ["attn", "attn_norm", (i) => 0.012 + 0.015 * (((i * 53) % 97) / 96)],
      ["ffn", "ffn_norm", (i) => 1.1 + 0.5 * (((i * 31) % 89) / 88)],
      ["sub", "attn_sub_norm", (i) => 0.01 * Math.pow(380, ((i * 17) % 101) / 100)],
    ];
    for (const [label, normClass, f] of cases) {
      const values = Float32Array.from({ length: 256 }, (_, i) => bf16(f(i)));
      const finding = judgeNorm(
        {
          tensor: t,
          values,
          payload: new Uint8Array(values.buffer),
          normClass,
          layer: 0,
          expectedShape: [256],
        },
        "bitnet",
        DEFAULT_RULES,
        null,
      );
      assert.equal(
        finding.verdict,
        "healthy",
        `${label}: ${JSON.stringify(finding.checks.filter((c) => c.status !== "pass"))}`,
      );
      // The same values under the old project's generic [0.5, 2.0] envelope: attn_norm is rejected.
      if (label !== "attn") continue;
      const generic = judgeNorm(
        {
          tensor: t,
          values,
          payload: new Uint8Array(values.buffer),
          normClass,
          layer: 0,
          expectedShape: [256],
        },
        "llama",
        DEFAULT_RULES,
        null,
      );
      assert.equal(generic.verdict, "suspicious");
    }
  } finally {
    g.close();
  }
});
