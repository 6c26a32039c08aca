import assert from "node:assert/strict";
import { readBitnetEnv } from "../../lib/cli/env.ts";
import { reportStyle } from "../../lib/cli/report_style.ts";
import {
  type NormFinding,
  normTable,
  renderReport,
  type TensorStatsEntry,
} from "../../lib/validate/report.ts";
import { validateGguf } from "../../lib/validate/validate.ts";
import { cleanFixture } from "./_variants.ts";

Deno.test("reportStyle: plain words without colour, ANSI codes with", () => {
  const plain = reportStyle({ color: false });
  assert.deepEqual(["pass", "fail", "warn", "skip"].map((s) => plain.status(s as "pass")), [
    "PASS",
    "FAIL",
    "WARN",
    "SKIP",
  ]);
  assert.equal(plain.bad("x"), "x");
  const coloured = reportStyle({ color: true });
  assert.equal(coloured.status("pass"), "\x1b[32mPASS\x1b[39m");
});

/** A norm finding whose figures exercise the number format (normTable is the public table). */
function normWith(stats: Partial<TensorStatsEntry>, verdict: NormFinding["verdict"]): NormFinding {
  const count = 256, nonFinite = 0, rms = 1, mean = 1, min = 1, max = 1;
  const name = "blk.0.attn_norm.weight", type = "F32", shape = [256];
  return {
    name,
    normClass: "attn_norm",
    layer: 0,
    type,
    shape,
    stats: { name, type, shape, count, nonFinite, rms, mean, min, max, ...stats },
    distinct: 40,
    gridLevels: null,
    envelope: { rmsMin: 0.5, rmsMax: 2, reason: "" },
    meta: null,
    verdict,
    checks: [],
  };
}

Deno.test("normTable aligns columns, ignoring colour codes", () => {
  const norms = [normWith({}, "healthy"), normWith({}, "suspicious")];
  const coloured = normTable(norms, reportStyle({ color: true }));
  assert.ok(coloured.includes("\x1b["));
  // deno-lint-ignore no-control-regex
  const stripped = coloured.replace(/\x1b\[[0-9;]*m/g, "");
  assert.equal(stripped, normTable(norms, reportStyle({ color: false })));
  const lines = stripped.split("\n");
  assert.equal(lines[0]!.indexOf("verdict"), lines[1]!.indexOf("healthy"));
  assert.equal(lines[1]!.indexOf("healthy"), lines[2]!.indexOf("suspicious"));
});

Deno.test("normTable numbers: 4 decimals, exponent form when tiny or huge", () => {
  const finding = normWith({ rms: 0.0123456, mean: 1.5e-6, min: 0, max: Infinity }, "healthy");
  const row = normTable([finding], reportStyle({ color: false })).split("\n")[1]!;
  assert.deepEqual(row.split(/ +/).slice(3, 7), ["0.0123", "0.0000", "Infinity", "1.500e-6"]);
});

Deno.test("renderReport shows every gate, the norm table, the blocks and the verdict", async () => {
  const clean = await cleanFixture();
  const r = await validateGguf({
    ggufPath: clean.ggufPath,
    env: readBitnetEnv(new Map([["BITNET_STRICT_MODE", "1"]])),
    skipProbe: true,
  });
  const text = renderReport(r, reportStyle({ color: false }));
  for (
    const line of [
      /^PASS Strict mode: strict mode on/m,
      /^PASS Gate 1: norm tensors: 17 norm tensors healthy/m,
      /^ {2}blk\.0\.attn_norm\.weight +F32 +256 +1\.0199/m,
      /^PASS Gate 2: projections and model loading/m,
      /^ {2}block +rms +-1 \/ 0 \/ \+1 +outliers$/m,
      /^SKIP Gate 3: linguistic probe: skipped/m,
      /^PASSED exit 0: success$/m,
    ]
  ) {
    assert.match(text, line);
  }
});
