/**
 * End-to-end validation of the exported fixture and of broken variants of it:
 * each variant must get its documented exit code. Reference numbers come from
 * outside the code under test: norm statistics computed with Python from the
 * BF16 safetensors, greedy ids from the PyTorch reference.json.
 */

import assert from "node:assert/strict";
import { readBitnetEnv } from "../../lib/cli/env.ts";
import { ternarizeAbsmean } from "../../lib/codecs/ternary.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { sha256File } from "../../lib/io/hash.ts";
import { checkJsonSchema } from "../_json_schema.ts";
import { DEFAULT_RULES, mergeRules } from "../../lib/validate/rules.ts";
import { validateGguf } from "../../lib/validate/validate.ts";
import { cleanFixture, isNorm, rewriteGguf, rng, scratchDir } from "./_variants.ts";

const STRICT = readBitnetEnv(new Map([["BITNET_STRICT_MODE", "1"]]));
const PLAIN = readBitnetEnv(new Map());
const SCHEMA = JSON.parse(await Deno.readTextFile("docs/reference/validate-report.schema.json"));
const REFERENCE = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/reference.json"));

async function tempDir(): Promise<string> {
  return await scratchDir("variant-");
}

function gate(report: Awaited<ReturnType<typeof validateGguf>>, id: string) {
  const g = report.gates.find((x) => x.id === id);
  assert.ok(g, `gate ${id} in report`);
  return g;
}

function assertSchema(report: unknown): void {
  const errors = checkJsonSchema(JSON.parse(JSON.stringify(report)), SCHEMA);
  assert.deepEqual(errors, []);
}

Deno.test("clean fixture export passes every gate in strict mode, report matches the schema", async () => {
  const clean = await cleanFixture();
  const r = await validateGguf({
    ggufPath: clean.ggufPath,
    tokenizerPath: "fixtures/tiny-bitnet/tokenizer.json",
    env: STRICT,
    expect: "Paris",
  });
  assert.equal(r.exitCode, 0, JSON.stringify(r.gates.filter((g) => g.status !== "pass"), null, 1));
  assert.equal(r.passed, true);
  assert.deepEqual(r.gates.map((g) => [g.id, g.status]), [
    ["strict", "pass"],
    ["norms", "pass"],
    ["projections", "pass"],
    ["linguistic", "pass"],
  ]);
  assert.equal(r.environment.strict, true);
  assert.equal(r.environment.seed, 42);
  assert.equal(r.model.metaPath, clean.metaPath);
  // 4 layers x 4 norms + output_norm, all compared with meta.json.
  assert.equal(r.norms.length, 17);
  assert.ok(r.norms.every((n) => n.verdict === "healthy" && n.meta !== null && n.meta.digestMatch));
  // Statistics against values computed with Python from the BF16 safetensors.
  const attn0 = r.tensors.find((t) => t.name === "blk.0.attn_norm.weight")!;
  assert.ok(Math.abs(attn0.rms - 1.0199233138016919) < 1e-12);
  assert.equal(attn0.min, 0.9609375);
  assert.equal(attn0.max, 1.0859375);
  const out = r.tensors.find((t) => t.name === "output_norm.weight")!;
  assert.ok(Math.abs(out.rms - 1.2564235624295452) < 1e-12);
  assert.ok(Math.abs(out.mean - 1.255828857421875) < 1e-12);
  // Every tensor of the file has statistics; 28 ternary projections in 4 blocks.
  assert.equal(r.tensors.length, 46);
  assert.equal(r.projections.length, 28);
  assert.ok(r.projections.every((p) => p.trits !== null && p.scale! > 0));
  assert.equal(r.blocks.length, 4);
  // The probe: the PyTorch reference's greedy ids over its stable prefix.
  const ref = REFERENCE.prompts[0].bitnet;
  const stable: number = ref.greedy_stable_prefix_len;
  assert.deepEqual(r.probe!.promptIds, REFERENCE.prompts[0].prompt_ids);
  assert.deepEqual(r.probe!.generatedIds.slice(0, stable), ref.greedy_ids.slice(0, stable));
  assert.ok(r.probe!.text.startsWith(" Paris."));
  assert.ok(r.probe!.nll!.meanNll < r.probe!.nll!.threshold);
  assertSchema(r);
});

Deno.test("norms quantized to a ternary grid: exit 11 even though the RMS envelope passes", async () => {
  const clean = await cleanFixture();
  const path = `${await tempDir()}/ternary-norms.gguf`;
  await rewriteGguf(clean.ggufPath, path, (t, v) => {
    if (!isNorm(t.name) || !v) return undefined;
    const { trits, scale } = ternarizeAbsmean(v);
    return { values: Float32Array.from(trits, (x) => x * scale) };
  });
  const r = await validateGguf({ ggufPath: path, env: STRICT, skipProbe: true });
  assert.equal(r.exitCode, 11);
  assert.equal(gate(r, "norms").exitCode, 11);
  for (const n of r.norms) {
    assert.equal(n.verdict, "suspicious");
    const byId = Object.fromEntries(n.checks.map((c) => [c.id, c.status]));
    assert.equal(byId.envelope, "pass", n.name);
    assert.equal(byId.distinct, "fail", n.name);
    assert.equal(byId.grid, "fail", n.name);
    assert.equal(n.gridLevels, 1);
  }
  assertSchema(r);
});

Deno.test("norms scaled x50: exit 11 from the envelope and from meta.json", async () => {
  const clean = await cleanFixture();
  const dir = await tempDir();
  const path = `${dir}/scaled.gguf`;
  await rewriteGguf(
    clean.ggufPath,
    path,
    (t, v) => isNorm(t.name) && v ? { values: v.map((x) => x * 50) } : undefined,
  );
  const r = await validateGguf({
    ggufPath: path,
    env: STRICT,
    skipProbe: true,
    metaPath: clean.metaPath,
  });
  assert.equal(r.exitCode, 11);
  for (const n of r.norms) {
    const byId = Object.fromEntries(n.checks.map((c) => [c.id, c.status]));
    assert.equal(byId.envelope, "fail", n.name);
    assert.equal(byId.meta_rms, "fail", n.name);
    assert.ok(Math.abs(n.meta!.relDiff - 49) < 1e-6);
  }
  assertSchema(r);
});

Deno.test("every norm removed: exit 12", async () => {
  const clean = await cleanFixture();
  const path = `${await tempDir()}/no-norms.gguf`;
  await rewriteGguf(clean.ggufPath, path, (t) => (isNorm(t.name) ? null : undefined));
  const r = await validateGguf({ ggufPath: path, env: STRICT });
  assert.equal(r.exitCode, 12);
  assert.equal(r.norms.length, 0);
  assert.match(gate(r, "norms").summary, /no norm tensors/);
  assertSchema(r);
});

Deno.test("a projection missing or misshapen: exit 13", async () => {
  const clean = await cleanFixture();
  const dir = await tempDir();
  const missing = `${dir}/missing.gguf`;
  await rewriteGguf(
    clean.ggufPath,
    missing,
    (t) => (t.name === "blk.1.ffn_up.weight" ? null : undefined),
  );
  const r1 = await validateGguf({ ggufPath: missing, env: STRICT });
  assert.equal(r1.exitCode, 13);
  assert.ok(
    gate(r1, "projections").checks.some((c) =>
      c.id === "present" && /blk\.1\.ffn_up/.test(c.message)
    ),
  );

  const misshapen = `${dir}/misshapen.gguf`;
  await rewriteGguf(
    clean.ggufPath,
    misshapen,
    (t, v) =>
      t.name === "blk.2.attn_k.weight" && v
        ? { values: v.slice(0, 32 * 256), shape: [32, 256] }
        : undefined,
  );
  const r2 = await validateGguf({ ggufPath: misshapen, env: STRICT });
  assert.equal(r2.exitCode, 13);
  const shape = gate(r2, "projections").checks.find((c) => c.id === "shape" && c.status === "fail");
  assert.match(
    shape!.message,
    /blk\.2\.attn_k\.weight has shape \[32, 256\], expected \[64, 256\]/,
  );
  assertSchema(r2);
});

Deno.test("a tokenizer.json whose vocabulary disagrees with the GGUF: exit 13", async () => {
  const clean = await cleanFixture();
  const json = JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/tokenizer.json"));
  const vocab = json.model.vocab as Record<string, number>;
  const key = Object.keys(vocab).find((k) => vocab[k] === 300)!;
  delete vocab[key];
  vocab["Ġzzmismatch"] = 300;
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
  const r = await validateGguf({
    ggufPath: clean.ggufPath,
    tokenizerPath: `${dir}/tokenizer.json`,
    env: STRICT,
  });
  assert.equal(r.exitCode, 13);
  const tok = gate(r, "projections").checks.find((c) => c.id === "tokenizer")!;
  assert.equal(tok.status, "fail");
  assert.match(tok.message, /token 300/);
});

Deno.test("a model with random weights: exit 15 (gibberish)", async () => {
  const clean = await cleanFixture();
  const path = `${await tempDir()}/random.gguf`;
  const next = rng(7);
  await rewriteGguf(clean.ggufPath, path, (t, v) => {
    if (isNorm(t.name) || !v) return undefined;
    if (t.name === "token_embd.weight") return { values: v.map(() => (next() - 0.5) * 0.25) };
    const scale = v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    return { values: v.map(() => (Math.floor(next() * 3) - 1) * scale) };
  });
  const r = await validateGguf({ ggufPath: path, env: STRICT });
  assert.equal(r.exitCode, 15, JSON.stringify(r.gates, null, 1));
  assert.equal(gate(r, "norms").status, "pass");
  assert.equal(gate(r, "projections").status, "pass");
  const nll = r.probe!.signals.find((s) => s.id === "passage_nll")!;
  assert.equal(nll.pass, false);
  assertSchema(r);
});

for (
  const name of [
    "BITNET_CORRECTION_POLICY",
    "BITNET_ALLOW_RUNTIME_CORRECTIONS",
    "BITNET_FIX_LN_SCALE",
  ]
) {
  Deno.test(`strict mode refuses ${name}: exit 16 naming it`, async () => {
    const clean = await cleanFixture();
    const env = readBitnetEnv(
      new Map([["BITNET_STRICT_MODE", "1"], [name, name.endsWith("POLICY") ? "p.json" : "1"]]),
    );
    const r = await validateGguf({ ggufPath: clean.ggufPath, env });
    assert.equal(r.exitCode, 16);
    assert.match(gate(r, "strict").summary, new RegExp(name));
    assert.ok(r.gates.slice(1).every((g) => g.status === "skip"));
    assertSchema(r);
  });
}

/** attn_norm rescaled to RMS 0.02 like BitNet 2B-4T, with q/k scaled back so the model is unchanged. */
async function smallAttnNormModel(): Promise<string> {
  const clean = await cleanFixture();
  const path = `${await tempDir()}/attn-norm-002.gguf`;
  const factors = new Map<number, number>();
  await rewriteGguf(clean.ggufPath, path, (t, v) => {
    if (!v) return undefined;
    const m = /^blk\.(\d+)\.(attn_norm|attn_q|attn_k)\.weight$/.exec(t.name);
    if (!m) return undefined;
    const layer = Number(m[1]);
    if (m[2] === "attn_norm") {
      const rms = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
      factors.set(layer, 0.02 / rms);
      return { values: v.map((x) => x * factors.get(layer)!) };
    }
    // RMSNorm output feeds q/k only through BitLinear, whose activation quantizer is scale-free:
    // dividing the ternary scale by the same factor restores q and k exactly (v is re-normalized by attn_sub_norm).
    return { values: v.map((x) => x / factors.get(layer)!), type: GgmlType.F32 };
  });
  return path;
}

Deno.test("a BitNet model whose attn_norm RMS is 0.02 like the real 2B-4T passes", async () => {
  const path = await smallAttnNormModel();
  const r = await validateGguf({ ggufPath: path, env: STRICT });
  assert.equal(r.exitCode, 0, JSON.stringify(r.gates.filter((g) => g.status !== "pass"), null, 1));
  for (const n of r.norms.filter((n) => n.normClass === "attn_norm")) {
    assert.ok(Math.abs(n.stats!.rms - 0.02) < 1e-6, `${n.name} ${n.stats!.rms}`);
  }
  const ref = REFERENCE.prompts[0].bitnet;
  assert.deepEqual(r.probe!.generatedIds.slice(0, 5), ref.greedy_ids.slice(0, 5));

  // The same file under a generic envelope for every norm (the old project's rule) is rejected.
  const generic = mergeRules(DEFAULT_RULES, {
    norms: [{
      family: "bitnet",
      normClass: "attn_norm",
      rmsMin: 0.5,
      rmsMax: 2,
      reason: "generic",
    }],
  }, "generic.json");
  const r2 = await validateGguf({ ggufPath: path, env: STRICT, rules: generic, skipProbe: true });
  assert.equal(r2.exitCode, 11);
  assert.equal(r2.rules.source, "generic.json");
});

Deno.test("outside strict mode a policy keyed by sha256 corrects norms in memory only, and is recorded", async () => {
  const clean = await cleanFixture();
  const dir = await tempDir();
  const path = `${dir}/scaled.gguf`;
  await rewriteGguf(
    clean.ggufPath,
    path,
    (t, v) => isNorm(t.name) && v ? { values: v.map((x) => x * 50) } : undefined,
  );
  const sha = await sha256File(path);
  const policyPath = `${dir}/policy.json`;
  await Deno.writeTextFile(
    policyPath,
    JSON.stringify({
      version: 1,
      models: {
        [`sha256-${sha}`]: {
          note: "norms exported x50",
          corrections: [{
            tensors: ["*_norm.weight"],
            scale: 0.02,
            reason: "undo the x50 export bug",
          }],
        },
      },
    }),
  );
  const env = readBitnetEnv(
    new Map([["BITNET_CORRECTION_POLICY", policyPath], ["BITNET_ALLOW_RUNTIME_CORRECTIONS", "1"]]),
  );
  const r = await validateGguf({ ggufPath: path, env });
  // Gates 1-2 judge the file as stored: still suspicious.
  assert.equal(r.exitCode, 11);
  assert.equal(gate(r, "linguistic").status, "pass", JSON.stringify(r.gates, null, 1));
  assert.equal(r.model.sha256, sha);
  assert.equal(r.corrections.length, 17);
  for (const c of r.corrections) {
    assert.ok(Math.abs(c.after.rms - c.before.rms * 0.02) < 1e-6 * c.before.rms, c.tensor);
    assert.ok(c.before.rms > 40);
  }
  assert.equal(await sha256File(path), sha, "the file is never modified");
  assertSchema(r);

  // Without BITNET_ALLOW_RUNTIME_CORRECTIONS nothing is applied, and the report says why.
  const r2 = await validateGguf({
    ggufPath: path,
    env: readBitnetEnv(new Map([["BITNET_CORRECTION_POLICY", policyPath]])),
    skipProbe: false,
  });
  assert.equal(r2.corrections.length, 0);
  assert.ok(r2.warnings.some((w) => /BITNET_ALLOW_RUNTIME_CORRECTIONS=1/.test(w)));
});

Deno.test("an unreadable file or an undecodable norm: exit 10", async () => {
  const dir = await tempDir();
  const r1 = await validateGguf({ ggufPath: `${dir}/absent.gguf`, env: PLAIN });
  assert.equal(r1.exitCode, 10);
  assertSchema(r1);

  const clean = await cleanFixture();
  const path = `${dir}/bad-norm.gguf`;
  // I2_S code 3 does not exist: the norm cannot be decoded.
  await rewriteGguf(
    clean.ggufPath,
    path,
    (t) =>
      t.name === "output_norm.weight"
        ? { bytes: new Uint8Array(256 / 4 + 32).fill(0xff), type: GgmlType.I2_S }
        : undefined,
  );
  const r2 = await validateGguf({ ggufPath: path, env: PLAIN, skipProbe: true });
  assert.equal(r2.exitCode, 10);
  assert.match(gate(r2, "norms").summary, /output_norm\.weight/);
});
