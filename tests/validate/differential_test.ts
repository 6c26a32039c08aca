/**
 * Differential validation on the fixture: the I2_S quantization of the F16
 * export agrees with it (top-1 100% on stable positions, mean KL < 1e-3), and
 * deliberately damaged quantized files fail (exit 15); a candidate that
 * cannot load is exit 13.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { EXIT, UsageError } from "../../lib/errors.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { type GgufFile, openGguf } from "../../lib/gguf/reader.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { copyMetadata } from "../../lib/quantize/metadata.ts";
import {
  compareModels,
  DEFAULT_DIFFERENTIAL_THRESHOLDS,
  DIFFERENTIAL_THRESHOLDS,
  type DifferentialReport,
} from "../../lib/validate/differential.ts";
import { PROBE_PASSAGE } from "../../lib/validate/linguistic.ts";
import { validateGguf } from "../../lib/validate/validate.ts";
import { checkJsonSchema } from "../_json_schema.ts";
import { readBitnetEnv } from "../../lib/cli/env.ts";
import { FIXTURE_DIR } from "../_models.ts";

const tmp = await Deno.makeTempDir({ prefix: "differential-test-" });
const f16Path =
  (await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: tmp, quiet: true })).ggufPath;
const i2sPath = (await quantizeGguf({ input: f16Path, outDir: tmp, type: "i2_s" })).ggufPath;

/** A shorter passage keeps the damaged-file runs quick. */
const SHORT = {
  passage: "The capital of France is Paris. Once upon a time, there was a little bear named Tom.",
  probeTokens: 8,
};

async function compareFiles(
  candidate: string,
  reference: string,
  opts: Parameters<typeof compareModels>[2] = {},
): Promise<DifferentialReport> {
  const c = await openGguf(candidate), r = await openGguf(reference);
  try {
    return await compareModels(c, r, opts);
  } finally {
    c.close();
    r.close();
  }
}

/** A copy of the I2_S file with one tensor's payload bytes changed by `damage`. */
async function damaged(
  name: string,
  tensor: string,
  damage: (payload: Uint8Array, n: number) => void,
): Promise<string> {
  const bytes = await Deno.readFile(i2sPath);
  const g = await openGguf(i2sPath);
  try {
    const t = g.tensor(tensor);
    damage(bytes.subarray(t.fileOffset, t.fileOffset + t.nbytes), t.ne[0]! * t.ne[1]!);
  } finally {
    g.close();
  }
  const path = join(tmp, `${name}.gguf`);
  await Deno.writeFile(path, bytes);
  return path;
}

const status = (r: DifferentialReport) => Object.fromEntries(r.checks.map((c) => [c.id, c.status]));

Deno.test("differential: I2_S against its F16 source on the probe prompt and the shipped passage", async () => {
  const r = await compareFiles(i2sPath, f16Path);
  assert.equal(r.status, "pass", JSON.stringify(r.checks));
  assert.equal(r.exitCode, null);
  assert.deepEqual(r.thresholds, DEFAULT_DIFFERENTIAL_THRESHOLDS);
  const [probe, passage] = r.segments;
  assert.equal(probe!.id, "probe");
  assert.equal(probe!.text, "The capital of France is");
  // BOS + 5 prompt tokens (reference.json's prompt_ids) + 16 greedy tokens; 16 positions compared.
  assert.deepEqual(probe!.ids.slice(0, 6), [2046, 463, 275, 272, 941, 264]);
  assert.equal(probe!.positions, 16);
  // The reference's greedy continuation starts " Paris." as in reference.json.
  assert.deepEqual(probe!.ids.slice(6, 8), [1197, 46]);
  assert.equal(passage!.text, PROBE_PASSAGE);
  assert.equal(passage!.positions, passage!.ids.length - 1);
  assert.ok(r.overall!.stablePositions > 50);
  assert.equal(r.overall!.stableTop1Agreement, 1);
  assert.ok(r.overall!.meanKl < 1e-3, `mean KL ${r.overall!.meanKl}`);
  assert.ok(Math.abs(r.overall!.passageNllIncrease) < 1e-3);
  // A sane English passage NLL on a 2048-token vocabulary: far below log(2048) ≈ 7.6.
  assert.ok(passage!.referenceNll > 0 && passage!.referenceNll < 5, `NLL ${passage!.referenceNll}`);
  assert.deepEqual(status(r), {
    "differential.top1": "pass",
    "differential.kl": "pass",
    "differential.nll": "pass",
  });
});

Deno.test("differential: a model compared with itself has KL 0 and equal NLLs", async () => {
  const r = await compareFiles(f16Path, f16Path, SHORT);
  assert.equal(r.status, "pass");
  for (const s of r.segments) {
    assert.equal(s.meanKl, 0);
    assert.equal(s.candidateNll, s.referenceNll);
    assert.equal(s.top1Agreement, 1);
  }
});

Deno.test("differential: negated codes in one ffn_down fail every check (exit 15)", async () => {
  // Swap codes 0 (−1) and 2 (+1) in every 2-bit field: the matrix becomes −W.
  const path = await damaged("negated", "blk.1.ffn_down.weight", (p, n) => {
    for (let i = 0; i < n / 4; i++) p[i] = p[i]! ^ ((~p[i]! & 0x55) << 1);
  });
  const r = await compareFiles(path, f16Path, SHORT);
  assert.equal(r.status, "fail");
  assert.equal(r.exitCode, EXIT.gibberish);
  assert.equal(EXIT.gibberish, 15);
  assert.deepEqual(status(r), {
    "differential.top1": "fail",
    "differential.kl": "fail",
    "differential.nll": "fail",
  });
  assert.ok(r.segments.some((s) => s.disagreements.length > 0));
  const kl = r.checks.find((c) => c.id === "differential.kl")!;
  assert.equal(kl.status, "fail");
  assert.match(kl.message, /^mean KL/);
});

Deno.test("differential: a tripled ffn_down scale fails on KL (exit 15)", async () => {
  const path = await damaged("scaled", "blk.2.ffn_down.weight", (p, n) => {
    const dv = new DataView(p.buffer, p.byteOffset + n / 4, 4);
    dv.setFloat32(0, dv.getFloat32(0, true) * 3, true);
  });
  const r = await compareFiles(path, f16Path, SHORT);
  assert.equal(r.exitCode, 15);
  assert.equal(status(r)["differential.kl"], "fail");
  assert.ok(r.overall!.meanKl > 10 * DEFAULT_DIFFERENTIAL_THRESHOLDS.maxMeanKl);
});

async function writeWithout(src: GgufFile, drop: string, path: string): Promise<string> {
  const w = new GgufWriter(src.alignment);
  copyMetadata(w, src, 40);
  const kept = src.tensors.filter((t) => t.name !== drop);
  for (const t of kept) w.addTensorInfo(t.name, t.shape, t.type);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await w.write({
      write: async (c) => {
        for (let done = 0; done < c.length;) done += await file.write(c.subarray(done));
      },
    }, (_, i) => src.readTensor(kept[i]!));
  } finally {
    file.close();
  }
  return path;
}

Deno.test("differential: a candidate that cannot load is exit 13, naming the file and tensor", async () => {
  const src = await openGguf(i2sPath);
  let path: string;
  try {
    path = await writeWithout(src, "blk.3.ffn_down.weight", join(tmp, "missing.gguf"));
  } finally {
    src.close();
  }
  const r = await compareFiles(path, f16Path, SHORT);
  assert.equal(r.status, "fail");
  assert.equal(r.exitCode, EXIT.modelLoad);
  assert.equal(EXIT.modelLoad, 13);
  assert.equal(r.checks[0]!.id, "differential.load");
  assert.match(r.checks[0]!.message, /missing\.gguf/);
  assert.match(r.checks[0]!.message, /blk\.3\.ffn_down\.weight/);
  assert.equal(r.overall, null);
});

Deno.test("differential: thresholds are declared with reasons; bad options are usage errors", async () => {
  for (const [k, t] of Object.entries(DIFFERENTIAL_THRESHOLDS)) {
    assert.ok(t.reason.length > 30, k);
    assert.equal(
      DEFAULT_DIFFERENTIAL_THRESHOLDS[k as keyof typeof DEFAULT_DIFFERENTIAL_THRESHOLDS],
      t.value,
    );
  }
  assert.equal(DEFAULT_DIFFERENTIAL_THRESHOLDS.maxMeanKl, 1e-3);
  assert.equal(DEFAULT_DIFFERENTIAL_THRESHOLDS.minStableTop1Agreement, 1);
  await assert.rejects(compareFiles(i2sPath, f16Path, { probeTokens: 0 }), UsageError);
});

Deno.test("model-validate --against: a differential gate in the report, schema-valid; a damaged file exits 15", async () => {
  const schema = JSON.parse(await Deno.readTextFile("docs/reference/validate-report.schema.json"));
  const good = await validateGguf({
    ggufPath: i2sPath,
    against: f16Path,
    env: readBitnetEnv(new Map()),
  });
  assert.equal(good.exitCode, 0);
  const gate = good.gates.find((g) => g.id === "differential");
  assert.equal(gate?.status, "pass");
  assert.equal(good.differential?.overall?.stableTop1Agreement, 1);
  assert.deepEqual(checkJsonSchema(JSON.parse(JSON.stringify(good)), schema), []);

  const negated = await damaged("negated-validate", "blk.0.ffn_down.weight", (p, n) => {
    for (let i = 0; i < n / 4; i++) p[i] = p[i]! ^ ((~p[i]! & 0x55) << 1);
  });
  const bad = await validateGguf({
    ggufPath: negated,
    against: f16Path,
    env: readBitnetEnv(new Map()),
  });
  assert.equal(bad.gates.find((g) => g.id === "differential")?.status, "fail");
  assert.equal(bad.exitCode, EXIT.gibberish);
  assert.equal(bad.gates.find((g) => g.id === "differential")?.exitCode, EXIT.gibberish);

  const missing = await validateGguf({
    ggufPath: i2sPath,
    against: join(tmp, "nope.gguf"),
    env: readBitnetEnv(new Map()),
  });
  assert.equal(missing.exitCode, EXIT.modelLoad);
  assert.match(missing.gates.find((g) => g.id === "differential")!.summary, /nope\.gguf/);
});

Deno.test("remove the temporary files", async () => {
  await Deno.remove(tmp, { recursive: true });
});
