/**
 * The two tasks as a user runs them: a subprocess with the permissions of
 * their deno.json entries, its exit code, stdout and the report file.
 */

import assert from "node:assert/strict";
import { checkJsonSchema } from "../_json_schema.ts";
import { cleanFixture, isNorm, rewriteGguf, scratchDir } from "./_variants.ts";

const SCHEMA = JSON.parse(await Deno.readTextFile("docs/reference/validate-report.schema.json"));

/** The environment without any BITNET_* variable from the caller. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return env;
}

async function run(
  task: string,
  args: string[],
  env: Record<string, string> = {},
  writeDir?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const perms = ["--allow-read", "--allow-env", ...(writeDir ? [`--allow-write=${writeDir}`] : [])];
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--frozen", ...perms, task, ...args],
    env: { ...baseEnv(), ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("model-validate --json --report: exit 0 in strict mode, JSON on stdout and in the file", async () => {
  const clean = await cleanFixture();
  const dir = await scratchDir();
  const reportPath = `${dir}/report.json`;
  const r = await run(
    "tasks/validate_gguf.ts",
    [
      clean.ggufPath,
      "fixtures/tiny-bitnet/tokenizer.json",
      "--json",
      "--report",
      reportPath,
      "--expect",
      "Paris",
    ],
    { BITNET_STRICT_MODE: "1", BITNET_DETERMINISTIC: "1" },
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(reportPath)), report);
  assert.deepEqual(checkJsonSchema(report, SCHEMA), []);
  assert.equal(report.environment.strict, true);
  assert.equal(report.environment.deterministic, true);
  assert.equal(report.environment.seed, 42);
  assert.deepEqual(report.environment.variables, {
    BITNET_STRICT_MODE: "1",
    BITNET_DETERMINISTIC: "1",
  });
});

Deno.test("model-validate: text report without colours when piped; exit 16 names the variable", async () => {
  const clean = await cleanFixture();
  const r = await run("tasks/validate_gguf.ts", [clean.ggufPath], {
    BITNET_STRICT_MODE: "1",
    BITNET_FIX_LN_SCALE: "1",
  });
  assert.equal(r.code, 16, r.stderr);
  assert.match(r.stdout, /FAIL Strict mode: .*BITNET_FIX_LN_SCALE=1/);
  assert.match(r.stdout, /FAILED exit 16/);
  assert.ok(!r.stdout.includes("\x1b["), "no ANSI colour codes when stdout is not a terminal");
});

Deno.test("model-validate: usage errors exit 2", async () => {
  const r1 = await run("tasks/validate_gguf.ts", []);
  assert.equal(r1.code, 2);
  assert.match(r1.stderr, /missing <model\.gguf>/);
  const r2 = await run("tasks/validate_gguf.ts", ["x.gguf", "--bogus"]);
  assert.equal(r2.code, 2);
  const r3 = await run("tasks/validate_gguf.ts", ["--help"]);
  assert.equal(r3.code, 0);
  assert.match(r3.stdout, /^Exit codes:\n\s+0\s+success\n/m);
  assert.match(r3.stdout, /^\s+10\s+the norm inspection could not run$/m);
});

Deno.test("model-inspect-ln prints the norm table; exit 11 on scaled norms", async () => {
  const clean = await cleanFixture();
  const ok = await run("tasks/inspect_ln.ts", [clean.ggufPath]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /blk\.0\.attn_norm\.weight\s+F32\s+256\s+1\.0199\s+0\.9609\s+1\.0859/);
  assert.match(ok.stdout, /output_norm\.weight\s+F32\s+256\s+1\.2564/);
  assert.equal(ok.stdout.match(/ healthy$/gm)?.length, 17);

  const dir = await scratchDir();
  const scaled = `${dir}/scaled.gguf`;
  await rewriteGguf(
    clean.ggufPath,
    scaled,
    (t, v) => (isNorm(t.name) && v ? { values: v.map((x) => x * 50) } : undefined),
  );
  const bad = await run("tasks/inspect_ln.ts", [scaled, "--json"]);
  assert.equal(bad.code, 11);
  const json = JSON.parse(bad.stdout);
  assert.equal(json.norms.length, 17);
  assert.ok(json.norms.every((n: { verdict: string }) => n.verdict === "suspicious"));
});
