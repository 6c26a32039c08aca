import assert from "node:assert/strict";
import { InputError, UsageError } from "../../lib/errors.ts";
import {
  DEFAULT_RULES,
  envelopeFor,
  loadRules,
  mergeRules,
  NORM_CLASSES,
} from "../../lib/validate/rules.ts";

const inside = (x: number, e: { rmsMin: number; rmsMax: number }) => x >= e.rmsMin && x <= e.rmsMax;

Deno.test("envelopes: generic [0.5, 2.0]; every row has a reason", () => {
  for (const c of NORM_CLASSES) {
    const e = envelopeFor(DEFAULT_RULES, "llama", c);
    assert.equal(e.rmsMin, 0.5);
    assert.equal(e.rmsMax, 2.0);
    assert.equal(envelopeFor(DEFAULT_RULES, null, c).rmsMin, 0.5);
  }
  for (const r of DEFAULT_RULES.norms) assert.ok(r.reason.length > 20);
});

Deno.test("envelopes: BitNet 2B-4T's documented ranges (FORMATS.md §4) and the fixture's are inside", () => {
  // attn_norm 0.012-0.027, ffn_norm 1.1-1.6, sub-norms with values 0.01-3.8; the fixture keeps ~1 (output 1.26).
  for (const x of [0.012, 0.027, 1.02]) {
    assert.ok(inside(x, envelopeFor(DEFAULT_RULES, "bitnet", "attn_norm")), `${x}`);
  }
  for (const x of [1.1, 1.6, 1.0]) {
    assert.ok(inside(x, envelopeFor(DEFAULT_RULES, "bitnet", "ffn_norm")));
  }
  for (const c of ["attn_sub_norm", "ffn_sub_norm"] as const) {
    for (const x of [0.01, 3.8, 0.95]) {
      assert.ok(inside(x, envelopeFor(DEFAULT_RULES, "bitnet", c)));
    }
  }
  assert.ok(inside(1.2564, envelopeFor(DEFAULT_RULES, "bitnet", "output_norm")));
  // x50 of the fixture's norms (about 50) is outside every BitNet envelope.
  for (const c of NORM_CLASSES) assert.ok(!inside(47, envelopeFor(DEFAULT_RULES, "bitnet", c)), c);
});

Deno.test("mergeRules: replaces matching rows, adds new ones, overrides numbers", () => {
  const r = mergeRules(DEFAULT_RULES, {
    norms: [
      { family: "llama", normClass: "attn_norm", rmsMin: 0.01, rmsMax: 3, reason: "my llama" },
      { family: "bitnet", normClass: "ffn_norm", rmsMin: 0.9, rmsMax: 1.1, reason: "tight" },
    ],
    quantization: { maxDistinct: 5 },
    linguistic: { maxNllFraction: 0.5 },
  }, "mine.json");
  assert.equal(r.source, "mine.json");
  assert.equal(envelopeFor(r, "llama", "attn_norm").rmsMin, 0.01);
  assert.equal(envelopeFor(r, "llama", "ffn_norm").rmsMin, 0.5);
  assert.equal(envelopeFor(r, "bitnet", "ffn_norm").rmsMax, 1.1);
  assert.equal(r.norms.length, DEFAULT_RULES.norms.length + 1);
  assert.equal(r.quantization.maxDistinct, 5);
  assert.equal(r.quantization.gridMaxLevel, DEFAULT_RULES.quantization.gridMaxLevel);
  assert.equal(r.linguistic.maxNllFraction, 0.5);
  assert.equal(r.linguistic.minLetterRatio, DEFAULT_RULES.linguistic.minLetterRatio);
});

Deno.test("mergeRules: malformed overrides are usage errors naming the key", () => {
  const bad: [unknown, RegExp][] = [
    [[], /object/],
    [{ extra: 1 }, /unknown key "extra"/],
    [{ norms: [{ family: "gpt", rmsMin: 0, rmsMax: 1, reason: "x" }] }, /family/],
    [{ norms: [{ normClass: "q_norm", rmsMin: 0, rmsMax: 1, reason: "x" }] }, /normClass/],
    [{ norms: [{ rmsMin: 2, rmsMax: 1, reason: "x" }] }, /rmsMin <= rmsMax/],
    [{ norms: [{ rmsMin: 0.1, rmsMax: 1 }] }, /reason/],
    [{ quantization: { maxDistinct: "3" } }, /maxDistinct/],
    [{ projections: { blockRmsFactor: -1 } }, /blockRmsFactor/],
  ];
  for (const [override, re] of bad) {
    assert.throws(
      () => mergeRules(DEFAULT_RULES, override, "r.json"),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      JSON.stringify(override),
    );
  }
});

Deno.test("loadRules: reads a JSON file; a missing file is an input error", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/rules.json`;
  await Deno.writeTextFile(path, JSON.stringify({ projections: { blockRmsFactor: 3 } }));
  const r = await loadRules(path);
  assert.equal(r.projections.blockRmsFactor, 3);
  assert.equal(r.source, path);
  await assert.rejects(() => loadRules(`${dir}/absent.json`), InputError);
});
