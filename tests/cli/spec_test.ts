/**
 * The task specs and what is derived from them, without running a task: one
 * help layout, one unknown-option message, --json and --quiet everywhere,
 * choices in any case, the tokenizer as a flag of model-probe, the folders
 * each run may write, and the `deno` command line the launcher builds.
 */

import assert from "node:assert/strict";
import { envNames, launchArgs, networkHosts, writeFolders } from "../../lib/cli/launch.ts";
import {
  type AnyParsedArgs,
  parseTaskArgs,
  renderHelp,
  type TaskSpec,
} from "../../lib/cli/spec.ts";
import {
  CHECK_SPEC,
  CLEAN_SPEC,
  DEFAULT_MAX_TOKENS_TEXT,
  DEFAULT_PROMPT_TEXT,
  EXPORT_SPEC,
  PROBE_SPEC,
  QUANTIZE_SPEC,
  SIGN_SPEC,
  TASK_SPECS,
  VALIDATE_SPEC,
} from "../../lib/cli/specs.ts";
import { EXIT, UsageError } from "../../lib/errors.ts";
import { DEFAULT_PROMPT as PROBE_PROMPT } from "../../lib/inference/probe.ts";
import { DEFAULT_MAX_TOKENS } from "../../lib/validate/validate.ts";

const SPECS = Object.values(TASK_SPECS);
const parse = (spec: TaskSpec, argv: string[]): AnyParsedArgs => parseTaskArgs(spec, argv);

/** The smallest valid command line of each task (its required arguments). */
const MINIMAL: Record<string, string[]> = {
  "model-export": [],
  "model-validate": ["m.gguf"],
  "model-clean": [],
  "model-inspect-ln": ["m.gguf"],
  "model-probe": ["m.gguf"],
  "model-quantize-i2s": ["m.gguf"],
  "model-baseline": ["m.gguf", "t.json"],
  "model-check": ["ckpt", "t.json"],
  "model-verify": ["m.gguf"],
  "model-sign": ["m.gguf", "--key", "k"],
};

Deno.test("every task: one help layout (usage, arguments, options, examples, exit codes)", () => {
  for (const spec of SPECS) {
    const help = renderHelp(spec);
    const sections = [...help.matchAll(/^(Usage|Arguments|Options|Examples|Exit codes):/gm)]
      .map((m) => m[1]);
    assert.deepEqual(
      sections,
      ["Usage", "Arguments", "Options", "Examples", "Exit codes"],
      `${spec.name} --help sections`,
    );
    assert.ok(help.startsWith(`Usage: ${spec.name} `), spec.name);
    for (const flag of ["--json", "--quiet", "-h, --help"]) {
      assert.match(help, new RegExp(`^  ${flag}\\b`, "m"), `${spec.name} --help lists ${flag}`);
    }
    // Each exit code the task declares is listed with its meaning from lib/errors.ts.
    for (const code of [0, 1, 2, ...spec.exitCodes]) {
      assert.match(help, new RegExp(`^  ${code}\\s+\\S`, "m"), `${spec.name} exit ${code}`);
    }
    for (const line of help.split("\n")) {
      assert.ok(line.length <= 110, `${spec.name}: help line too long: ${line}`);
    }
  }
});

Deno.test("every task takes --json and --quiet; an unknown option is one message ending in 'see --help'", () => {
  assert.deepEqual(Object.keys(MINIMAL).sort(), Object.keys(TASK_SPECS).sort());
  for (const spec of SPECS) {
    const argv = MINIMAL[spec.name]!;
    const parsed = parse(spec, [...argv, "--json", "--quiet"]);
    assert.equal(parsed.flags.json, true, spec.name);
    assert.equal(parsed.flags.quiet, true, spec.name);
    assert.throws(
      () => parse(spec, [...argv, "--allow-write=/tmp/out"]),
      (e: unknown) =>
        e instanceof UsageError && e.exitCode === EXIT.usage &&
        e.message === `${spec.name}: unknown option --allow-write; see --help`,
      spec.name,
    );
    assert.throws(() => parse(spec, [...argv, "--quiet=1"]), /takes no value; see --help$/);
    assert.throws(
      () => parse(spec, [...argv, "x", "y", "z", "w"]),
      /unexpected argument.*see --help$/,
    );
  }
  assert.throws(
    () => parse(TASK_SPECS["model-validate"]!, []),
    /^.*missing <model\.gguf>; see --help$/,
  );
  assert.throws(
    () => parse(TASK_SPECS["model-validate"]!, ["m.gguf", "--report"]),
    /--report needs a value; see --help$/,
  );
  // Baselines are rendered by code, not from a Markdown template: the old flag is refused.
  assert.throws(
    () =>
      parse(TASK_SPECS["model-baseline"]!, [...MINIMAL["model-baseline"]!, "--template", "t.md"]),
    (e: unknown) =>
      e instanceof UsageError && e.exitCode === EXIT.usage &&
      /unknown option --template/.test(e.message),
  );
});

Deno.test("choices are matched in any case: --type I2_S, TQ2_0, Tq1_0; others are refused", () => {
  for (const [given, want] of [["I2_S", "i2_s"], ["TQ2_0", "tq2_0"], ["Tq1_0", "tq1_0"]]) {
    assert.equal(parseTaskArgs(QUANTIZE_SPEC, ["m.gguf", "--type", given!]).flags.type, want);
  }
  assert.equal(parseTaskArgs(QUANTIZE_SPEC, ["m.gguf"]).flags.type, "i2_s");
  assert.equal(parseTaskArgs(EXPORT_SPEC, ["--outtype", "BF16"]).flags.outtype, "bf16");
  assert.throws(
    () => parseTaskArgs(QUANTIZE_SPEC, ["m.gguf", "--type", "q4_0"]),
    /--type must be one of i2_s, tq2_0, tq1_0, got "q4_0"; see --help/,
  );
});

Deno.test("model-clean takes every flag of model-export", () => {
  for (const name of Object.keys(EXPORT_SPEC.options)) {
    assert.ok(name in CLEAN_SPEC.options, `model-clean --${name}`);
  }
  assert.deepEqual(CLEAN_SPEC.positionals, EXPORT_SPEC.positionals);
});

Deno.test("model-probe: a prompt ending in .json is a prompt; the tokenizer is --tokenizer", () => {
  const p = parseTaskArgs(PROBE_SPEC, ["m.gguf", "What is in package.json", "4"]);
  assert.equal(p.args.prompt, "What is in package.json");
  assert.equal(p.args.max_tokens, 4);
  assert.equal(p.flags.tokenizer, undefined);
  const t = parseTaskArgs(PROBE_SPEC, ["m.gguf", "--tokenizer", "tok.json", "Hi"]);
  assert.equal(t.flags.tokenizer, "tok.json");
  assert.equal(t.args.prompt, "Hi");
  // With --ids there is no prompt: the second positional is max_tokens.
  const ids = parseTaskArgs(PROBE_SPEC, ["m.gguf", "--ids", "1,2", "3"]);
  assert.equal(ids.args.max_tokens, 3);
});

Deno.test("integer arguments: parsed to numbers (defaults too); anything but a positive integer is refused, naming it", () => {
  assert.equal(parseTaskArgs(PROBE_SPEC, ["m.gguf", "--threads", "3"]).flags.threads, 3);
  assert.equal(parseTaskArgs(PROBE_SPEC, ["m.gguf"]).flags["top-logits"], 10);
  assert.equal(parseTaskArgs(PROBE_SPEC, ["--threads", "0", "--help"]).flags.help, true);
  const refused: [string[], string, string][] = [
    [["m.gguf", "--threads", "0"], "--threads", "0"],
    [["m.gguf", "Hi", "2.5"], "max_tokens", "2.5"],
    [["m.gguf", "--top-k", "x"], "--top-k", "x"],
  ];
  for (const [argv, what, got] of refused) {
    assert.throws(
      () => parseTaskArgs(PROBE_SPEC, argv),
      (e: unknown) =>
        e instanceof UsageError && e.exitCode === EXIT.usage &&
        e.message === `${what} must be a positive integer, got "${got}"`,
    );
  }
});

Deno.test("the specs' probe defaults are the library's", () => {
  assert.equal(DEFAULT_PROMPT_TEXT, PROBE_PROMPT);
  assert.equal(Number(DEFAULT_MAX_TOKENS_TEXT), DEFAULT_MAX_TOKENS);
  assert.equal(parseTaskArgs(VALIDATE_SPEC, ["m.gguf"]).flags["max-tokens"], DEFAULT_MAX_TOKENS);
});

Deno.test("writeFolders: exactly the folders each run writes", () => {
  const cases: [TaskSpec, string[], string[]][] = [
    [EXPORT_SPEC, [], ["models/clean"]],
    [EXPORT_SPEC, ["ckpt", "", "/data/out"], ["/data/out"]],
    [EXPORT_SPEC, ["--hf-repo", "a/b", "out"], ["out", "models/hub"]],
    [EXPORT_SPEC, ["--hf-repo", "a/b", "--cache-dir", "/c"], ["models/clean", "/c"]],
    [CLEAN_SPEC, ["ckpt", "", "o", "--report", "/r/rep.json"], ["o", "/r"]],
    [QUANTIZE_SPEC, ["/data/m.gguf"], ["/data"]],
    [QUANTIZE_SPEC, ["m.gguf"], ["."]],
    [QUANTIZE_SPEC, ["/data/m.gguf", "q"], ["q"]],
    [TASK_SPECS["model-baseline"]!, ["/d/m.gguf", "t.json"], ["/d"]],
    [TASK_SPECS["model-baseline"]!, ["/d/m.gguf", "t.json", "r/x.md"], ["r"]],
    [CHECK_SPEC, ["ckpt", "t.json"], ["models/clean"]],
    [CHECK_SPEC, ["ckpt", "t.json", "--out-dir", "/o"], ["/o"]],
    [TASK_SPECS["model-validate"]!, ["m.gguf"], []],
    [TASK_SPECS["model-validate"]!, ["m.gguf", "--report", "/r/x.json"], ["/r"]],
    [SIGN_SPEC, ["/d/m.gguf", "--key", "/k/me.key"], ["/d"]],
    [SIGN_SPEC, ["/d/m.gguf", "--key", "/k/me.key", "--sig", "/s/x.sig"], ["/s"]],
    [SIGN_SPEC, ["--generate-key", "--key", "keys/me.key"], ["keys"]],
    [SIGN_SPEC, ["--generate-key", "--key", "keys/me.key", "--pubkey", "/pub/me.pub"], [
      "keys",
      "/pub",
    ]],
    [PROBE_SPEC, ["m.gguf"], []],
    [TASK_SPECS["model-verify"]!, ["m.gguf"], []],
    [TASK_SPECS["model-inspect-ln"]!, ["m.gguf"], []],
  ];
  for (const [spec, argv, folders] of cases) {
    assert.deepEqual(
      writeFolders(spec, parse(spec, argv)),
      folders,
      `${spec.name} ${argv.join(" ")}`,
    );
  }
});

Deno.test("network and HF_TOKEN only with --hf-repo, and only to the Hub's hosts", () => {
  assert.deepEqual(networkHosts(EXPORT_SPEC, parse(EXPORT_SPEC, [])), []);
  assert.deepEqual(networkHosts(EXPORT_SPEC, parse(EXPORT_SPEC, ["--hf-repo", "a/b"])), [
    "huggingface.co",
    "*.huggingface.co",
    "*.hf.co",
  ]);
  assert.deepEqual(
    networkHosts(
      CLEAN_SPEC,
      parse(CLEAN_SPEC, ["--hf-repo", "a/b", "--hub-url", "http://127.0.0.1:9/"]),
    ),
    ["127.0.0.1:9"],
  );
  assert.ok(!envNames(EXPORT_SPEC, parse(EXPORT_SPEC, [])).includes("HF_TOKEN"));
  assert.ok(envNames(EXPORT_SPEC, parse(EXPORT_SPEC, ["--hf-repo", "a/b"])).includes("HF_TOKEN"));
  for (const spec of SPECS) {
    const names = envNames(spec, parse(spec, MINIMAL[spec.name]!));
    assert.ok(names.includes("BITNET_STRICT_MODE") && names.includes("NO_COLOR"), spec.name);
  }
});

Deno.test("launchArgs: paths from the user's folder, one --allow-write per folder, frozen, the repo's config", () => {
  const ctx = { userCwd: "/home/me/work", repoRoot: "/src/clean-gguf" };
  const args = launchArgs(QUANTIZE_SPEC, ["m.gguf", "out", "--type", "TQ2_0"], ctx);
  assert.deepEqual(args.slice(0, 5), [
    "run",
    "--frozen",
    "--config=/src/clean-gguf/deno.json",
    "--allow-read",
    "--allow-write=/home/me/work/out",
  ]);
  assert.ok(args[5]!.startsWith("--allow-env=BITNET_STRICT_MODE,"));
  assert.deepEqual(args.slice(6), [
    "/src/clean-gguf/tasks/quantize_i2s_clean.ts",
    "m.gguf",
    "out",
    "--type",
    "TQ2_0",
  ]);
  assert.ok(!args.some((a) => a.startsWith("--allow-net") || a === "-A" || a === "--allow-all"));
  const noWrite = launchArgs(PROBE_SPEC, ["m.gguf", "What is in package.json"], ctx);
  assert.ok(!noWrite.some((a) => a.startsWith("--allow-write")));
  // The engine tasks' V8 settings come before the script (else they would be the script's arguments).
  const v8 = noWrite.indexOf("--v8-flags=--max-semi-space-size=2");
  assert.ok(v8 > 0 && v8 < noWrite.findIndex((a) => a.endsWith("tasks/probe.ts")));
  assert.ok(!args.some((a) => a.startsWith("--v8-flags")));
  const hub = launchArgs(EXPORT_SPEC, ["--hf-repo", "a/b", "/abs/out"], ctx);
  assert.ok(hub.includes("--allow-write=/abs/out"));
  assert.ok(hub.includes("--allow-write=/home/me/work/models/hub"));
  assert.ok(hub.includes("--allow-net=huggingface.co,*.huggingface.co,*.hf.co"));
  assert.throws(() => launchArgs(EXPORT_SPEC, ["ckpt", "", "a,b"], ctx), /path with a comma/);
  assert.throws(
    () => launchArgs(EXPORT_SPEC, ["--bogus"], ctx),
    /unknown option --bogus; see --help/,
  );
  // --help needs no write permission at all.
  assert.ok(!launchArgs(EXPORT_SPEC, ["--help"], ctx).some((a) => a.startsWith("--allow-write")));
});

Deno.test("launchArgs: BITNET_NATIVE_KERNELS gets --allow-ffi for that file, engine tasks only", () => {
  const ctx = { userCwd: "/home/me/work", repoRoot: "/src/clean-gguf", nativeKernels: "lib/n.so" };
  const probe = launchArgs(PROBE_SPEC, ["m.gguf"], ctx);
  assert.deepEqual(probe.filter((a) => a.startsWith("--allow-ffi")), [
    "--allow-ffi=/home/me/work/lib/n.so",
  ]);
  assert.ok(
    probe.indexOf("--allow-ffi=/home/me/work/lib/n.so") < probe.indexOf(
      "/src/clean-gguf/tasks/probe.ts",
    ),
  );
  for (const spec of SPECS) {
    const ffi = launchArgs(spec, MINIMAL[spec.name]!, ctx).some((a) => a.startsWith("--allow-ffi"));
    assert.equal(ffi, spec.engine === true, spec.name);
  }
  const plain = { userCwd: "/home/me/work", repoRoot: "/src/clean-gguf" };
  assert.ok(!launchArgs(PROBE_SPEC, ["m.gguf"], plain).some((a) => a.startsWith("--allow-ffi")));
  assert.throws(
    () => launchArgs(PROBE_SPEC, ["m.gguf"], { ...ctx, nativeKernels: "/a,b/n.so" }),
    /path with a comma/,
  );
  assert.ok(
    ["model-validate", "model-probe", "model-clean"].every((n) =>
      SPECS.some((s) => s.name === n && s.engine)
    ),
  );
});

Deno.test("deno.json: every model-* task runs the launcher with its own name and no wider rights", async () => {
  const tasks = JSON.parse(await Deno.readTextFile("deno.json")).tasks as Record<
    string,
    { description: string; command: string }
  >;
  const launched = Object.keys(tasks).filter((n) => n.startsWith("model-")).sort();
  assert.deepEqual(launched, Object.keys(TASK_SPECS).sort());
  for (const name of launched) {
    assert.equal(
      tasks[name]!.command,
      `deno run --frozen --allow-read --allow-env=INIT_CWD,BITNET_NATIVE_KERNELS --allow-run=deno lib/cli/launch.ts ${name}`,
    );
    assert.equal(tasks[name]!.description, TASK_SPECS[name]!.summary, name);
  }
});
