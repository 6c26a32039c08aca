/**
 * `model-check` and `model-baseline` as a user runs them: subprocesses with
 * the permissions of their deno.json entries (writes limited to a scratch
 * folder), their exit codes, stdout, stderr and files.
 */

import assert from "node:assert/strict";
import { copyFixtureMetadata, FIXTURE_DIR } from "../_models.ts";
import { cleanFixture, scratchDir } from "../validate/_variants.ts";
import { FIXTURE_TOKENIZER, readBf16Tensor, rmsOf } from "./_fixture.ts";
import { elements, parseXml } from "./_xml.ts";

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
  writeDir: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--frozen",
      "--allow-read",
      `--allow-write=${writeDir}`,
      "--allow-env",
      task,
      ...args,
    ],
    env: { ...baseEnv(), ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * A copy of the fixture checkpoint whose tensor `name` (BF16) has its raw
 * 16-bit values rewritten by `edit`, patched in place in the SafeTensors bytes.
 */
async function alteredCheckpoint(
  dir: string,
  name: string,
  edit: (bits: number, index: number) => number,
): Promise<string> {
  await copyFixtureMetadata(dir);
  const bytes = await Deno.readFile(`${FIXTURE_DIR}/model.safetensors`);
  const dv = new DataView(bytes.buffer);
  const n = Number(dv.getBigUint64(0, true));
  const entry = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)))[name];
  assert.equal(entry.dtype, "BF16");
  const [a, b] = entry.data_offsets as [number, number];
  for (let i = 0; i < (b - a) / 2; i++) {
    const at = 8 + n + a + 2 * i;
    dv.setUint16(at, edit(dv.getUint16(at, true), i), true);
  }
  await Deno.writeFile(`${dir}/model.safetensors`, bytes);
  return dir;
}

const CHECK = "tasks/check.ts";
const BASELINE = "tasks/baseline.ts";
const FFN_NORM_1 = "model.layers.1.post_attention_layernorm.weight";

Deno.test("model-check: passes twice against its own first baseline, then fails (18) listing the altered norm", async () => {
  const root = await scratchDir("check-");
  const out = `${root}/out`;
  const ownBaseline = `${out}/clean-f16.baseline.json`;

  const first = await run(CHECK, [FIXTURE_DIR, FIXTURE_TOKENIZER, "--out-dir", out], root);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /PASSED exit 0/);
  for (const ext of ["md", "json", "svg"]) await Deno.stat(`${out}/clean-f16.baseline.${ext}`);
  const fingerprint = (await Deno.readTextFile(`${out}/clean-f16.fingerprint`)).trim();
  assert.equal(JSON.parse(await Deno.readTextFile(ownBaseline)).model.fingerprint, fingerprint);

  const second = await run(CHECK, [
    FIXTURE_DIR,
    FIXTURE_TOKENIZER,
    "--out-dir",
    out,
    "--baseline",
    ownBaseline,
  ], root);
  assert.equal(second.code, 0, second.stderr);
  assert.ok(second.stdout.includes(`matches the baseline ${ownBaseline}`), second.stdout);
  const reference = await Deno.readTextFile(ownBaseline);

  // One BF16 value of one norm raised by 8 ulps (1.0 → 1.0625 range): validation still passes.
  const altered = await alteredCheckpoint(
    `${root}/altered`,
    FFN_NORM_1,
    (bits, i) => (i === 0 ? bits + 8 : bits),
  );
  const third = await run(CHECK, [
    altered,
    FIXTURE_TOKENIZER,
    "--out-dir",
    out,
    "--baseline",
    ownBaseline,
  ], root);
  assert.equal(third.code, 18, third.stderr);
  assert.match(third.stdout, /PASSED exit 0/, "the validation itself passes");
  assert.match(
    third.stderr,
    new RegExp(
      `error: ${out}/clean-f16\\.gguf departs from the baseline ${ownBaseline} in \\d+ quantit`,
    ),
  );
  assert.match(
    third.stderr,
    new RegExp(
      `\\n  - fingerprint: "${fingerprint}" → "sha256-[0-9a-f]{64}" \\(tolerance exact\\)`,
    ),
  );
  const m =
    /\n {2}- tensor blk\.1\.ffn_norm\.weight rms: ([0-9.e-]+) → ([0-9.e-]+) \(tolerance ±1e-9 relative\)/
      .exec(third.stderr);
  assert.ok(m, third.stderr);
  const before =
    JSON.parse(reference).norms.find((x: { name: string }) => x.name === "blk.1.ffn_norm.weight")
      .rms;
  assert.equal(Number(m[1]), before);
  const expected = rmsOf(await readBf16Tensor(`${altered}/model.safetensors`, FFN_NORM_1));
  assert.ok(Math.abs(Number(m[2]) - expected) <= 1e-12 * expected, `${m[2]} vs ${expected}`);
  assert.ok(!/tensor blk\.0\./.test(third.stderr), "untouched tensors are not listed");
  // The reference it departs from is kept, not overwritten by the altered model's baseline.
  assert.match(third.stdout, /kept as the reference/);
  assert.equal(await Deno.readTextFile(ownBaseline), reference);
});

Deno.test("model-check: a failed validation keeps its own exit code (first failure wins), differences still listed", async () => {
  const root = await scratchDir("check-");
  const clean = await cleanFixture();
  const ref = `${root}/ref`;
  // The fixture's baseline, taken with model-baseline: the reference.
  const base = await run(BASELINE, [
    clean.ggufPath,
    FIXTURE_TOKENIZER,
    `${ref}/tiny.md`,
    "--json",
    "--quiet",
  ], root);
  assert.equal(base.code, 0, base.stderr);
  // Every value of one attn_norm ×64 (BF16 exponent + 6): RMS ~65, outside its envelope → exit 11.
  const altered = await alteredCheckpoint(
    `${root}/scaled`,
    "model.layers.0.input_layernorm.weight",
    (bits) => bits + (6 << 7),
  );
  const r = await run(CHECK, [
    altered,
    FIXTURE_TOKENIZER,
    "--out-dir",
    `${root}/out`,
    "--baseline",
    `${ref}/tiny.json`,
    "--quiet",
  ], root);
  assert.equal(r.code, 11, r.stderr);
  assert.match(r.stdout, /FAILED exit 11/);
  assert.match(
    r.stdout,
    /- tensor blk\.0\.attn_norm\.weight rms: [0-9.]+ → [0-9.]+ \(tolerance ±1e-9 relative\)/,
  );
  assert.match(
    r.stdout,
    /- tensor blk\.0\.attn_norm\.weight verdict: "healthy" → "suspicious" \(tolerance exact\)/,
  );
  // Different paths: the new (failing) baseline is written, the reference untouched.
  const written = JSON.parse(await Deno.readTextFile(`${root}/out/clean-f16.baseline.json`));
  assert.equal(written.validation.exitCode, 11);
  assert.equal(JSON.parse(await Deno.readTextFile(`${ref}/tiny.json`)).validation.exitCode, 0);
});

Deno.test("model-baseline: out_file.md with .json and .svg beside it; --json prints the same baseline", async () => {
  const root = await scratchDir("baseline-");
  const clean = await cleanFixture();
  const r = await run(BASELINE, [
    clean.ggufPath,
    FIXTURE_TOKENIZER,
    `${root}/b/tiny.md`,
    "--json",
    "--quiet",
  ], root);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const printed = JSON.parse(r.stdout);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(`${root}/b/tiny.json`)), printed);
  assert.equal(
    `${printed.model.fingerprint}\n`,
    await Deno.readTextFile(`${clean.dir}/clean-f16.fingerprint`),
  );
  const md = await Deno.readTextFile(`${root}/b/tiny.md`);
  assert.ok(md.includes("](tiny.svg)"));
  const svg = parseXml(await Deno.readTextFile(`${root}/b/tiny.svg`));
  const bars = elements(svg, "rect").filter((e) => e.attrs.get("class") === "bar");
  assert.deepEqual(
    bars.map((b) => b.attrs.get("data-tensor")).sort(),
    printed.norms.map((n: { name: string }) => n.name).sort(),
  );
});

Deno.test("model-check / model-baseline: usage, input and strict-mode errors come before any export", async () => {
  const root = await scratchDir("errors-");
  const out = `${root}/out`;
  const cases: [string, string[], number, RegExp, Record<string, string>?][] = [
    [CHECK, [], 2, /missing <model_dir>; see --help/],
    [CHECK, [FIXTURE_DIR], 2, /missing <tokenizer\.json>; see --help/],
    [CHECK, [FIXTURE_DIR, FIXTURE_TOKENIZER, "--out-dir", out, "--bogus"], 2, /bogus/],
    [
      CHECK,
      [FIXTURE_DIR, FIXTURE_TOKENIZER, "--out-dir", out, "--baseline", `${root}/none.json`],
      3,
      /none\.json: cannot read/,
    ],
    [
      CHECK,
      [
        FIXTURE_DIR,
        FIXTURE_TOKENIZER,
        "--out-dir",
        out,
        "--baseline",
        "fixtures/tiny-bitnet/config.json",
      ],
      4,
      /not a baseline/,
    ],
    [CHECK, [FIXTURE_DIR, FIXTURE_TOKENIZER, "--out-dir", out], 16, /BITNET_FIX_LN_SCALE=1/, {
      BITNET_STRICT_MODE: "1",
      BITNET_FIX_LN_SCALE: "1",
    }],
    [BASELINE, ["x.gguf"], 2, /missing <tokenizer\.json>; see --help/],
    [BASELINE, [`${root}/none.gguf`, FIXTURE_TOKENIZER], 16, /BITNET_CORRECTION_POLICY=p\.json/, {
      BITNET_STRICT_MODE: "1",
      BITNET_CORRECTION_POLICY: "p.json",
    }],
    [BASELINE, ["x.gguf", FIXTURE_TOKENIZER, "out.txt"], 2, /must end in \.md/],
    [BASELINE, [`${root}/none.gguf`, FIXTURE_TOKENIZER, `${root}/x.md`], 3, /none\.gguf/],
  ];
  for (const [task, args, code, why, env] of cases) {
    const r = await run(task, args, root, env ?? {});
    assert.equal(r.code, code, `${task} ${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, why);
  }
  assert.equal((await Array.fromAsync(Deno.readDir(root))).length, 0, "nothing was written");
  for (const task of [CHECK, BASELINE]) {
    const help = await run(task, ["--help"], root);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: model-(check|baseline) /);
  }
});
