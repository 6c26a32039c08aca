/**
 * Comparison with an earlier baseline under the one tolerance table: every
 * difference listed with name, before, after and tolerance; nothing listed
 * for differences within tolerance.
 */

import assert from "node:assert/strict";
import {
  BASELINE_TOLERANCES,
  type BaselineDifference,
  baselineMismatchError,
  compareBaselines,
  describeTolerance,
  withinTolerance,
} from "../../lib/baseline/compare.ts";
import type { Baseline } from "../../lib/baseline/types.ts";
import { exitCodeOf } from "../../lib/errors.ts";
import { fixtureBaseline } from "./_fixture.ts";

/** One difference as baselineMismatchError lists it (`  - name: before → after (tolerance …)`). */
const formatDifference = (d: BaselineDifference) =>
  baselineMismatchError([d], "b.json", "m.gguf").message.split("\n")[1]!.replace(/^ {2}- /, "");

type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[]
  : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> }
  : T;
const clone = (b: Baseline) => structuredClone(b) as Mutable<Baseline>;

Deno.test("tolerance: |Δ| ≤ absolute + relative × max(|a|,|b|), both zero is exact", () => {
  const rel = { relative: 1e-3, absolute: 0, why: "" };
  assert.ok(withinTolerance(1000, 1001, rel)); // bound 1.001
  assert.ok(!withinTolerance(1000, 1001.01, rel));
  const abs = { relative: 0, absolute: 0.5, why: "" };
  assert.ok(withinTolerance(-0.25, 0.25, abs));
  assert.ok(!withinTolerance(-0.25, 0.2501, abs));
  const exact = { relative: 0, absolute: 0, why: "" };
  assert.ok(withinTolerance(0.1, 0.1, exact));
  assert.ok(!withinTolerance(0.1, 0.1 + 2 ** -56, exact));
  assert.ok(withinTolerance(null, null, exact));
  assert.ok(!withinTolerance(null, 0, rel));
  assert.ok(!withinTolerance(NaN, NaN, rel));
  assert.equal(describeTolerance(exact), "exact");
  assert.equal(describeTolerance(BASELINE_TOLERANCES.rms), "±1e-9 relative");
  assert.equal(describeTolerance(BASELINE_TOLERANCES.mean), "±1e-12 + ±1e-9 relative");
  assert.equal(describeTolerance(BASELINE_TOLERANCES.nll), "±0.001");
});

Deno.test("compare: a baseline matches itself and a copy whose timings and environment differ", async () => {
  const { baseline } = await fixtureBaseline();
  assert.deepEqual(compareBaselines(baseline, baseline), []);
  const b = clone(baseline);
  b.timings = { "validate.totalMs": 1 };
  b.environment.threads = 64;
  b.environment.os = "elsewhere";
  b.tool.version = "9.9.9";
  assert.deepEqual(compareBaselines(baseline, b), []);
});

Deno.test("compare: statistics within tolerance pass, beyond it are listed with before, after, tolerance", async () => {
  const { baseline } = await fixtureBaseline();
  const i = baseline.norms.findIndex((n) => n.name === "blk.1.ffn_norm.weight");
  const rms = baseline.norms[i]!.rms!;

  const within = clone(baseline);
  within.norms[i]!.rms = rms * (1 + 1e-12); // a summation-order change
  within.nll!.meanNll += 0.0009;
  assert.deepEqual(compareBaselines(baseline, within), []);

  const beyond = clone(baseline);
  beyond.norms[i]!.rms = rms * (1 + 4e-6); // one F16 ulp in one of 256 values
  beyond.norms[i]!.max = 2;
  beyond.nll!.meanNll += 0.0011;
  const d = compareBaselines(baseline, beyond);
  assert.deepEqual(d.map((x) => x.name), [
    "tensor blk.1.ffn_norm.weight rms",
    "tensor blk.1.ffn_norm.weight max",
    "NLL mean",
  ]);
  assert.deepEqual(d[0], {
    name: "tensor blk.1.ffn_norm.weight rms",
    before: rms,
    after: rms * (1 + 4e-6),
    quantity: "rms",
    tolerance: "±1e-9 relative",
  });
  assert.equal(
    formatDifference(d[1]!),
    `tensor blk.1.ffn_norm.weight max: ${baseline.norms[i]!.max} → 2 (tolerance exact)`,
  );
  assert.equal(d[2]!.tolerance, "±0.001");
});

Deno.test("compare: fingerprint, probe ids, metadata, types, shapes and the tensor set are exact", async () => {
  const { baseline } = await fixtureBaseline();
  const b = clone(baseline);
  b.model.fingerprint = "sha256-" + "f".repeat(64);
  b.probe!.generatedIds = [...b.probe!.generatedIds.slice(0, 7), 1];
  b.metadata["general.name"] = "other";
  b.metadata["general.new_key"] = 1;
  b.projections[0]!.type = "TQ2_0";
  b.projections[1]!.shape = [1, 2];
  b.projections[2]!.trits = { neg: 0.5, zero: 0, pos: 0.5 };
  b.otherTensors = [];
  const d = compareBaselines(baseline, b);
  const byName = new Map(d.map((x) => [x.name, x]));
  assert.equal(byName.get("fingerprint")!.after, b.model.fingerprint);
  assert.deepEqual(byName.get("probe generated ids")!.after, b.probe!.generatedIds);
  assert.equal(byName.get("probe generated ids")!.tolerance, "exact");
  assert.deepEqual(
    [byName.get("metadata general.name")!.before, byName.get("metadata general.name")!.after],
    ["tiny-bitnet", "other"],
  );
  assert.deepEqual(
    [byName.get("metadata general.new_key")!.before, byName.get("metadata general.new_key")!.after],
    [null, 1],
  );
  assert.equal(byName.get(`tensor ${b.projections[0]!.name} type`)!.after, "TQ2_0");
  assert.ok(byName.has(`tensor ${b.projections[1]!.name} shape`));
  assert.ok(byName.has(`tensor ${b.projections[2]!.name} share of zero trits`));
  assert.deepEqual(
    [byName.get("tensor token_embd.weight")!.before, byName.get("tensor token_embd.weight")!.after],
    ["present", "absent"],
  );
  assert.equal(d.length, 10); // 1 + 1 + 2 metadata + 1 + 1 + 3 trit shares + 1
});

Deno.test("compare: a probe or NLL that ran once but not now is a difference", async () => {
  const { baseline } = await fixtureBaseline();
  const b = clone(baseline);
  b.probe = null;
  b.nll = null;
  assert.deepEqual(
    compareBaselines(baseline, b).map((x) => formatDifference(x)),
    [
      `probe: "ran" → "did not run" (tolerance exact)`,
      `NLL: "measured" → "not measured" (tolerance ±0.001)`,
    ],
  );
});

Deno.test("baselineMismatchError: exit 18, one line per difference", async () => {
  const { baseline } = await fixtureBaseline();
  const b = clone(baseline);
  b.model.fingerprint = "sha256-" + "a".repeat(64);
  b.norms[0]!.mean = 5;
  const e = baselineMismatchError(compareBaselines(baseline, b), "old.json", "m/clean-f16.gguf");
  assert.equal(exitCodeOf(e), 18);
  const lines = e.message.split("\n");
  assert.equal(lines[0], "m/clean-f16.gguf departs from the baseline old.json in 2 quantities:");
  assert.match(
    lines[1]!,
    /^ {2}- fingerprint: "sha256-[0-9a-f]{64}" → "sha256-a{64}" \(tolerance exact\)$/,
  );
  assert.match(
    lines[2]!,
    /^ {2}- tensor blk\.0\.attn_norm\.weight mean: [0-9.]+ → 5 \(tolerance ±1e-12 \+ ±1e-9 relative\)$/,
  );
});
