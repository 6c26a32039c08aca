import assert from "node:assert/strict";
import { readBitnetEnv } from "../../lib/cli/env.ts";
import { reportStyle } from "../../lib/cli/report_style.ts";
import { formatNumber, renderReport, textTable } from "../../lib/validate/report.ts";
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

Deno.test("textTable aligns columns, ignoring colour codes", () => {
  const c = reportStyle({ color: true });
  const t = textTable(["a", "bb"], [[c.good("xyz"), "1"], ["q", "22"]]);
  // deno-lint-ignore no-control-regex
  const lines = t.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  assert.deepEqual(lines, ["a    bb", "xyz  1", "q    22"]);
});

Deno.test("formatNumber", () => {
  assert.equal(formatNumber(0.0123456), "0.0123");
  assert.equal(formatNumber(1.5e-6), "1.500e-6");
  assert.equal(formatNumber(0), "0.0000");
  assert.equal(formatNumber(Infinity), "Infinity");
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
