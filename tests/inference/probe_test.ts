/**
 * The probe (lib/inference/probe.ts) and its task (tasks/probe.ts) on the
 * exported fixture: the greedy continuation is the PyTorch reference's,
 * `--json` has the documented fields, and failures map to their exit codes.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { EXIT } from "../../lib/errors.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { runProbe } from "../../lib/inference/probe.ts";

const FIXTURE = "fixtures/tiny-bitnet";
const reference = JSON.parse(await Deno.readTextFile(`${FIXTURE}/reference.json`)) as {
  prompts: Array<
    {
      prompt: string;
      prompt_ids: number[];
      bitnet: {
        greedy_ids: number[];
        greedy_stable_prefix_len: number;
        top10_last_prompt_pos: Array<[number, number]>;
      };
    }
  >;
};
const france = reference.prompts[0]!;

const tmp = await Deno.makeTempDir({ prefix: "probe-test-" });
const { ggufPath } = await exportCleanGguf({ modelDir: FIXTURE, outDir: tmp, quiet: true });

async function task(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/probe.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("runProbe: text prompt through the GGUF's own tokenizer gives the reference continuation", async () => {
  const stable = france.bitnet.greedy_stable_prefix_len;
  const r = await runProbe({
    modelPath: ggufPath,
    prompt: france.prompt,
    maxTokens: stable,
    topLogits: 3,
  });
  assert.deepEqual(r.prompt_ids, france.prompt_ids);
  assert.deepEqual(r.generated_ids, france.bitnet.greedy_ids.slice(0, stable));
  assert.ok(r.text!.startsWith(" Paris."), r.text!);
  assert.deepEqual(
    r.top_logits.map((t) => t.id),
    france.bitnet.top10_last_prompt_pos.slice(0, 3).map(([id]) => id),
  );
  assert.equal(r.top_logits[0]!.token, "ĠParis");
});

Deno.test("runProbe: ids instead of text; the continuation is decoded (tokenizer.json checked against the GGUF)", async () => {
  const r = await runProbe({
    modelPath: ggufPath,
    ids: france.prompt_ids,
    maxTokens: 2,
    tokenizerPath: `${FIXTURE}/tokenizer.json`,
  });
  assert.equal(r.prompt, null);
  assert.deepEqual(r.generated_ids, france.bitnet.greedy_ids.slice(0, 2));
  assert.equal(r.text, " Paris.");
});

Deno.test("model-probe --json prints the documented fields; timing goes to stderr", async () => {
  const { code, stdout, stderr } = await task(
    ggufPath,
    "--tokenizer",
    `${FIXTURE}/tokenizer.json`,
    france.prompt,
    "4",
    "--json",
    "--top-logits",
    "5",
  );
  assert.equal(code, 0, stderr);
  const r = JSON.parse(stdout);
  for (const key of ["prompt", "prompt_ids", "generated_ids", "text", "top_logits"]) {
    assert.ok(key in r, key);
  }
  assert.deepEqual(r.prompt_ids, france.prompt_ids);
  assert.deepEqual(r.generated_ids, france.bitnet.greedy_ids.slice(0, 4));
  assert.equal(r.top_logits.length, 5);
  assert.match(stderr, /tok\/s/);
});

Deno.test("runProbe: int8 head for longer greedy runs, the file streamed for short ones, F16 resident when sampling", async () => {
  // The reference's prompt with the longest stable greedy continuation: longer than the runs
  // that stream the output matrix (8 tokens).
  const p = reference.prompts.reduce((a, b) =>
    b.bitnet.greedy_stable_prefix_len > a.bitnet.greedy_stable_prefix_len ? b : a
  );
  const stable = p.bitnet.greedy_stable_prefix_len;
  const run = (maxTokens: number, opts: { temperature?: number; int8Head?: boolean } = {}) =>
    runProbe({
      modelPath: ggufPath,
      ids: p.prompt_ids,
      maxTokens,
      sampling: opts.temperature !== undefined ? { temperature: opts.temperature, seed: 1 } : {},
      ...(opts.int8Head !== undefined ? { int8Head: opts.int8Head } : {}),
    });
  assert.ok(stable > 8, `the reference's longest stable prefix (${stable}) is a longer run`);
  const long = await run(stable);
  const short = await run(8);
  const forcedF16 = await run(stable, { int8Head: false });
  const sampled = await run(2, { temperature: 0.8 });
  assert.equal(long.output_head, "int8");
  assert.equal(short.output_head, "f16-streamed");
  assert.equal(forcedF16.output_head, "f16");
  assert.equal(sampled.output_head, "f16");
  // Every way of running the head gives the reference's tokens and the same logits, bit for bit.
  assert.deepEqual(long.generated_ids, p.bitnet.greedy_ids.slice(0, stable));
  assert.deepEqual(forcedF16.generated_ids, long.generated_ids);
  assert.deepEqual(short.generated_ids, long.generated_ids.slice(0, 8));
  assert.deepEqual(forcedF16.top_logits, long.top_logits);
  assert.deepEqual(short.top_logits, long.top_logits);
});

Deno.test("model-probe: seeded sampling is reproducible", async () => {
  const args = [
    ggufPath,
    "Once upon a time",
    "12",
    "--temperature",
    "1.2",
    "--top-p",
    "0.95",
    "--seed",
    "9",
  ];
  const a = await task(...args), b = await task(...args);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout);
});

Deno.test("model-probe: errors print `error:` and exit with their code", async () => {
  const missing = await task(join(tmp, "nope.gguf"));
  assert.equal(missing.code, EXIT.input);
  assert.match(missing.stderr, /^error: .*nope\.gguf/m);
  const usage = await task(ggufPath, "--top-p", "x");
  assert.equal(usage.code, EXIT.usage);
  const noArgs = await task();
  assert.equal(noArgs.code, EXIT.usage);
});

Deno.test("probe: clean up", async () => {
  await Deno.remove(tmp, { recursive: true });
});
