/**
 * The hostile-header corpus: every count a header declares, set to 1e9,
 * 2^32-1 and 2^64-1 (where its type allows), in the fixture's exported GGUF
 * and in its config.json. Each task that reads the file runs as a subprocess
 * with V8's heap capped at 512 MiB and a time cap; every case must end with a
 * typed exit code (never 0 for a hostile count, never 1, never a signal or
 * V8's fatal out-of-memory 133) whose message names the key and the file.
 * The context length is the one count no tensor can contradict: every task
 * accepts any u32 and sizes its memory from the run, never from it.
 *
 * Cost: a count the reader refuses stops every task at the same first step
 * (openGguf), so those run in-process for every value and as one subprocess
 * each (the tasks in turn); the hyper-parameter counts run through every task.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { HPARAMS } from "../../lib/arch/hparams.ts";
import { EXIT_MEANINGS, FormatError } from "../../lib/errors.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { REPO } from "../delivery/_scan.ts";
import { FIXTURE_DIR } from "../_models.ts";
import { GgufLayout } from "./_gguf_patch.ts";

const HEAP_CAP = "--v8-flags=--max-old-space-size=512";
const TIME_CAP_MS = 60_000;
const PARALLEL = 4;
const U32_MAX = 2n ** 32n - 1n, U64_MAX = 2n ** 64n - 1n, BILLION = 1_000_000_000n;

const root = await Deno.makeTempDir({ prefix: "hostile_" });
const FIXTURE = join(REPO, FIXTURE_DIR);
const { ggufPath } = await exportCleanGguf({
  modelDir: FIXTURE,
  outDir: `${root}/good`,
  quiet: true,
});
const layout = GgufLayout.parse(await Deno.readFile(ggufPath));
const ARCH = "bitnet-b1.58";

type Task = "validate" | "inspect-ln" | "probe" | "quantize" | "export";
const SCRIPTS: Record<Task, string> = {
  validate: "tasks/validate_gguf.ts",
  "inspect-ln": "tasks/inspect_ln.ts",
  probe: "tasks/probe.ts",
  quantize: "tasks/quantize_i2s_clean.ts",
  export: "tasks/export_clean_gguf.ts",
};
const GGUF_TASKS: readonly Task[] = ["validate", "inspect-ln", "probe", "quantize"];

/** One hostile input and what it must do. */
interface Case {
  readonly label: string;
  /** The GGUF, or the checkpoint folder for export. */
  readonly input: string;
  readonly tasks: readonly Task[];
  /** What the message must name besides the file (the key, or the field). */
  readonly names: RegExp;
  /** Every task succeeds (the context length: nothing is sized from it). */
  readonly accepted?: true;
}

interface Run {
  readonly code: number;
  readonly output: string;
  readonly ms: number;
}

/** One task as a subprocess, under the heap and time caps. */
async function runTask(task: Task, input: string, out: string): Promise<Run> {
  const args = task === "export"
    ? [input, join(input, "tokenizer.json"), out, "--quiet"]
    : task === "quantize"
    ? [input, out]
    : [input];
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--frozen", "-A", HEAP_CAP, join(REPO, SCRIPTS[task]), ...args],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(TIME_CAP_MS),
  }).output();
  const dec = new TextDecoder();
  return {
    code: r.signal !== null ? 128 : r.code,
    output: dec.decode(r.stdout) + dec.decode(r.stderr),
    ms: performance.now() - t0,
  };
}

/** Runs `jobs` with at most {@link PARALLEL} at a time. */
async function pool<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return results;
}

/** Failures of one case's runs, as readable lines (empty: the case holds). */
function judge(c: Case, task: Task, r: Run): string[] {
  const where = `${c.label} / ${task}: exit ${r.code} in ${(r.ms / 1000).toFixed(1)} s`;
  const tail = r.output.trim().split("\n").slice(-3).join(" | ").slice(0, 400);
  if (r.ms >= TIME_CAP_MS) return [`${where}: over the time cap`];
  if (c.accepted) return r.code === 0 ? [] : [`${where}: refused an acceptable count: ${tail}`];
  const typed = r.code > 1 && r.code < 128 && r.code in EXIT_MEANINGS;
  if (!typed) return [`${where}: not a typed error: ${tail}`];
  if (!r.output.includes(c.input) || !c.names.test(r.output)) {
    return [`${where}: the message does not name the file and ${c.names}: ${tail}`];
  }
  return [];
}

async function runCases(cases: Case[]): Promise<void> {
  const jobs = cases.flatMap((c, i) =>
    c.tasks.map((task) => async () =>
      judge(c, task, await runTask(task, c.input, `${root}/out/${i}-${task}`))
    )
  );
  const failures = (await pool(jobs)).flat();
  assert.deepEqual(failures, [], `${failures.length} of ${jobs.length} runs failed`);
}

let written = 0;
async function ggufCase(bytes: Uint8Array): Promise<string> {
  const path = `${root}/cases/${written++}.gguf`;
  await Deno.mkdir(`${root}/cases`, { recursive: true });
  await Deno.writeFile(path, bytes);
  return path;
}

const escape = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));

Deno.test("hostile GGUF hyper-parameters: 1e9, 2^32-1 and 2^64-1 in every count key, every task under the caps", async () => {
  const cases: Case[] = [];
  let turn = 0;
  for (const row of HPARAMS.filter((r) => !r.float)) {
    const key = `${ARCH}.${row.gguf}`;
    const values: [string, Uint8Array, readonly Task[]][] = [
      ["u32 1e9", layout.withKv(key, "u32", BILLION), GGUF_TASKS],
      // 2^32-1 and 2^64-1 take the same path as 1e9 in each task: one task each, in turn.
      ["u32 2^32-1", layout.withKv(key, "u32", U32_MAX), [GGUF_TASKS[turn++ % 4]!]],
      ["u64 2^64-1", layout.withKv(key, "u64", U64_MAX), [GGUF_TASKS[turn++ % 4]!]],
    ];
    for (const [what, bytes, tasks] of values) {
      const accepted = row.name === "contextLength" && what.startsWith("u32");
      cases.push({
        label: `${key} = ${what}`,
        input: await ggufCase(bytes),
        tasks,
        names: escape(key),
        ...(accepted ? { accepted } : {}),
      });
    }
  }
  await runCases(cases);
});

/** The reader's counts: where each sits, and what the message calls it. */
function readerCounts(): { label: string; offset: number; names: RegExp }[] {
  const tokens = layout.kv("tokenizer.ggml.tokens");
  const embd = layout.tensor("token_embd.weight");
  return [
    { label: "tensor_count", offset: layout.counts.tensorCount, names: /tensor_count/ },
    { label: "kv_count", offset: layout.counts.kvCount, names: /kv_count/ },
    { label: "tokens array length", offset: tokens.length!, names: /tokenizer\.ggml\.tokens/ },
    {
      label: "token_type array length",
      offset: layout.kv("tokenizer.ggml.token_type").length!,
      names: /tokenizer\.ggml\.token_type/,
    },
    {
      label: "merges array length",
      offset: layout.kv("tokenizer.ggml.merges").length!,
      names: /tokenizer\.ggml\.merges/,
    },
    { label: "a token's string length", offset: tokens.firstElementLength!, names: /tokens"\[0\]/ },
    {
      label: "a key's string length",
      offset: layout.kv(`${ARCH}.block_count`).keyLength,
      names: /key #\d+ length/,
    },
    {
      label: "a string value's length",
      offset: layout.kv("general.architecture").length!,
      names: /general\.architecture/,
    },
    { label: "a tensor name's length", offset: embd.nameLength, names: /name of tensor #0/ },
    { label: "a tensor dim", offset: embd.dims[0]!, names: /token_embd\.weight/ },
    {
      label: "a layer tensor's last dim",
      offset: layout.tensor("blk.0.attn_q.weight").dims[1]!,
      names: /blk\.0\.attn_q\.weight/,
    },
  ];
}

Deno.test("hostile GGUF header counts (tensor and key/value counts, array and string lengths, dims): a FormatError naming the field", async () => {
  const cases: Case[] = [];
  let turn = 0;
  for (const field of readerCounts()) {
    for (const value of [BILLION, U32_MAX, U64_MAX]) {
      const input = await ggufCase(layout.withU64At(field.offset, value));
      // In-process: the reader refuses it before allocating (every task opens the file first).
      await assert.rejects(() => openGguf(input), (e) => {
        assert.ok(e instanceof FormatError, `${field.label} = ${value}: ${e}`);
        assert.match((e as Error).message, field.names, `${field.label} = ${value}`);
        return true;
      });
      cases.push({
        label: `${field.label} = ${value}`,
        input,
        tasks: [GGUF_TASKS[turn++ % 4]!],
        names: field.names,
      });
    }
  }
  const nDims = layout.tensor("token_embd.weight").nDims;
  for (const value of [Number(BILLION), Number(U32_MAX)]) {
    cases.push({
      label: `n_dims = ${value}`,
      input: await ggufCase(layout.withU32At(nDims, value)),
      tasks: [GGUF_TASKS[turn++ % 4]!],
      names: /token_embd\.weight/,
    });
  }
  await runCases(cases);
});

Deno.test("hostile config.json counts: 1e9, 2^32-1 and 2^64-1 in every count key, model-export under the caps", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(FIXTURE, "config.json")));
  const cases: Case[] = [];
  const rows = HPARAMS.filter((r) => !r.float && r.config !== undefined);
  for (const row of rows) {
    for (const value of [BILLION, U32_MAX, U64_MAX]) {
      const dir = `${root}/ckpt/${row.name}-${value}`; // two rows may read one key (head_dim)
      await Deno.mkdir(dir, { recursive: true });
      for (const f of ["model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
        await Deno.symlink(join(FIXTURE, f), join(dir, f));
      }
      // The number as JSON text: 2^64-1 is not a double, as a hostile file would write it.
      const text = JSON.stringify({ ...config, [row.config!]: 0 }).replace(
        `"${row.config}":0`,
        `"${row.config}":${value}`,
      );
      await Deno.writeTextFile(join(dir, "config.json"), text);
      const accepted = row.name === "contextLength" && value <= U32_MAX;
      cases.push({
        label: `config.json ${row.config} = ${value}`,
        input: dir,
        tasks: ["export"],
        names: escape(`"${row.config}"`),
        ...(accepted ? { accepted } : {}),
      });
    }
  }
  await runCases(cases);
});

Deno.test("remove the temporary files", async () => {
  await Deno.remove(root, { recursive: true });
});
