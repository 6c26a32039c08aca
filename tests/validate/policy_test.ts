import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { NormCorrector, parsePolicy, resolveCorrections } from "../../lib/validate/policy.ts";

const SHA = "ab".repeat(32);
const policy = (corrections: unknown[]) => ({
  version: 1,
  models: { [`sha256-${SHA}`]: { note: "test", corrections } },
});

/** A policy key as parsePolicy normalizes it. */
const normalizeFingerprint = (key: string) => {
  try {
    const p = parsePolicy({ version: 1, models: { [key]: { corrections: [] } } }, "p.json");
    return [...p.models.keys()][0];
  } catch (e) {
    if (e instanceof UsageError && /sha256 fingerprint/.test(e.message)) return null;
    throw e;
  }
};

Deno.test("policy keys accept the .fingerprint form, sha256: and bare hex", () => {
  assert.equal(normalizeFingerprint(`sha256-${SHA.toUpperCase()}`), SHA);
  assert.equal(normalizeFingerprint(`sha256:${SHA}`), SHA);
  assert.equal(normalizeFingerprint(` ${SHA}\n`), SHA);
  assert.equal(normalizeFingerprint("abc"), null);
});

Deno.test("parsePolicy: valid policy; malformed ones are usage errors naming the key", () => {
  const p = parsePolicy(
    policy([{ tensors: ["blk.*.attn_norm.weight"], scale: 0.5, reason: "why" }]),
    "p.json",
  );
  assert.equal(p.models.get(SHA)?.corrections[0]?.scale, 0.5);
  const bad: [unknown, RegExp][] = [
    [{ models: {} }, /version/],
    [{ version: 1, models: { nothex: { corrections: [] } } }, /sha256/],
    [policy([{ tensors: ["blk.0.attn_q.weight"], scale: 2, reason: "x" }]), /names no norm tensor/],
    [policy([{ tensors: ["*_norm.weight"], reason: "x" }]), /exactly one of scale, targetRms/],
    [policy([{ tensors: ["*_norm.weight"], scale: 1, targetRms: 1, reason: "x" }]), /exactly one/],
    [policy([{ tensors: ["*_norm.weight"], scale: -1, reason: "x" }]), /> 0/],
    [policy([{ tensors: ["*_norm.weight"], scale: 2 }]), /reason/],
    [policy([{ tensors: [], scale: 2, reason: "x" }]), /non-empty/],
    [policy([{ tensors: ["output_norm.weight"], scale: 2, reason: "x", extra: 1 }]), /unknown key/],
  ];
  for (const [json, re] of bad) {
    assert.throws(
      () => parsePolicy(json, "p.json"),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      JSON.stringify(json),
    );
  }
});

Deno.test("NormCorrector: scale and target RMS, in place, recorded with before and after", () => {
  const c = new NormCorrector([
    { tensors: ["blk.*.attn_norm.weight"], scale: 0.5, reason: "halve" },
    { tensors: ["output_norm.weight"], targetRms: 1, reason: "unit" },
  ]);
  const a = new Float32Array([2, -2, 4]);
  c.apply("blk.3.attn_norm.weight", a);
  assert.deepEqual([...a], [1, -1, 2]);
  const o = new Float32Array([3, 4]); // RMS sqrt(12.5)
  c.apply("output_norm.weight", o);
  assert.ok(Math.abs(Math.hypot(o[0]!, o[1]!) / Math.SQRT2 - 1) < 1e-6);
  const untouched = new Float32Array([5]);
  c.apply("blk.0.ffn_norm.weight", untouched);
  assert.equal(untouched[0], 5);
  assert.equal(c.applied.length, 2);
  assert.deepEqual(c.applied[0]!.before, { rms: Math.sqrt(8), min: -2, max: 4 });
  assert.deepEqual(c.applied[0]!.after, { rms: Math.sqrt(2), min: -1, max: 2 });
  assert.equal(c.applied[0]!.reason, "halve");
});

Deno.test("resolveCorrections: both the policy and the allow flag are needed; legacy FIX_LN_SCALE ignored", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/policy.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify(policy([{ tensors: ["output_norm.weight"], scale: 2, reason: "x" }])),
  );
  const fp = () => Promise.resolve(SHA);
  let calls = 0;
  const counting = () => {
    calls++;
    return Promise.resolve(SHA);
  };
  const base = { correctionPolicy: null, allowRuntimeCorrections: false, fixLnScale: null };

  const none = await resolveCorrections(base, "m.gguf", counting);
  assert.equal(none.corrector, null);
  assert.deepEqual(none.warnings, []);
  assert.equal(calls, 0, "no fingerprint without a policy");

  const noAllow = await resolveCorrections({ ...base, correctionPolicy: path }, "m.gguf", counting);
  assert.equal(noAllow.corrector, null);
  assert.match(noAllow.warnings[0]!, /BITNET_ALLOW_RUNTIME_CORRECTIONS=1/);
  assert.equal(calls, 0);

  const allowOnly = await resolveCorrections(
    { ...base, allowRuntimeCorrections: true },
    "m.gguf",
    fp,
  );
  assert.equal(allowOnly.corrector, null);
  assert.match(allowOnly.warnings[0]!, /without BITNET_CORRECTION_POLICY/);

  const both = await resolveCorrections(
    { ...base, correctionPolicy: path, allowRuntimeCorrections: true },
    "m.gguf",
    fp,
  );
  assert.ok(both.corrector);
  assert.equal(both.sha256, SHA);

  const other = await resolveCorrections(
    { ...base, correctionPolicy: path, allowRuntimeCorrections: true },
    "m.gguf",
    () => Promise.resolve("cd".repeat(32)),
  );
  assert.equal(other.corrector, null);
  assert.match(other.warnings[0]!, /no entry for this model/);

  const legacy = await resolveCorrections({ ...base, fixLnScale: "1" }, "m.gguf", fp);
  assert.equal(legacy.corrector, null);
  assert.match(legacy.warnings[0]!, /BITNET_FIX_LN_SCALE=1 is a legacy setting and is ignored/);
});
