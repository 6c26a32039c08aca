/**
 * The GitHub workflows say what the issue asks, checked by parsing them (the
 * `yaml` package from deps.ts), and where it can be done here, by running
 * their step scripts with bash as a push would: the correction-variable guard,
 * and export → validate → baseline on the fixture in a copy of the repository,
 * after which every artifact pattern must match files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseYaml } from "../../deps.ts";
import { BINARIES } from "../../tasks/compile.ts";
import { copyRepository, REPO } from "./_scan.ts";
import { userEnv } from "./_user.ts";

interface Step {
  name?: string;
  id?: string;
  if?: string | boolean;
  uses?: string;
  with?: Record<string, string | number | boolean>;
  run?: string;
  env?: Record<string, string>;
  shell?: string;
  "continue-on-error"?: boolean | string;
}
interface Job {
  name?: string;
  "runs-on": string;
  env?: Record<string, string>;
  defaults?: { run?: { shell?: string } };
  steps: Step[];
}
interface Input {
  description?: string;
  type?: string;
  default?: string | boolean;
  required?: boolean;
}
interface Workflow {
  name: string;
  on: {
    push?: { paths?: string[] } | null;
    pull_request?: { paths?: string[] } | null;
    workflow_dispatch?: { inputs?: Record<string, Input> } | null;
  };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

async function readWorkflow(name: string): Promise<Workflow> {
  return parseYaml(await Deno.readTextFile(`${REPO}/.github/workflows/${name}`)) as Workflow;
}

const CORRECTION_VARIABLES = [
  "BITNET_CORRECTION_POLICY",
  "BITNET_ALLOW_RUNTIME_CORRECTIONS",
  "BITNET_FIX_LN_SCALE",
];

/** Index of the first step whose script matches `needle`; -1 when none. */
function stepIndex(job: Job, needle: RegExp): number {
  return job.steps.findIndex((s) => s.run !== undefined && needle.test(s.run));
}

function assertSetupDeno(job: Job, jobName: string): void {
  const setup = job.steps.find((s) => s.uses?.startsWith("denoland/setup-deno@"));
  assert.ok(setup, `${jobName}: uses denoland/setup-deno`);
  assert.equal(setup.with?.["deno-version"], "v2.9.6", `${jobName}: Deno pinned to v2.9.6`);
  const at = job.steps.indexOf(setup);
  const checkout = job.steps.findIndex((s) => s.uses?.startsWith("actions/checkout@"));
  assert.ok(checkout >= 0 && checkout < at, `${jobName}: checks out before setting up Deno`);
  job.steps.forEach((s, i) => {
    if (s.run?.includes("deno ")) {
      assert.ok(i > at, `${jobName}: "${s.name}" runs deno before setup`);
    }
  });
}

/** The value of a workflow env entry on a push: `${{ inputs.x || 'd' }}` is d. */
function onPush(value: string): string {
  const fallback = /^\$\{\{\s*inputs\.\w+\s*\|\|\s*'([^']*)'\s*\}\}$/.exec(value);
  if (fallback) return fallback[1]!;
  assert.ok(!value.includes("${{"), `cannot evaluate ${value}`);
  return value;
}

/** The environment a step sees on a push, on top of this process's (BITNET_* removed). */
function stepEnv(wf: Workflow, job: Job, step: Step, extra: Record<string, string> = {}) {
  const base = userEnv();
  const declared = { ...wf.env, ...job.env, ...step.env };
  return {
    ...base,
    ...Object.fromEntries(Object.entries(declared).map(([k, v]) => [k, onPush(String(v))])),
    ...extra,
  };
}

/** Runs a step's script as GitHub's `shell: bash` does (bash -eo pipefail). */
async function runStep(script: string, cwd: string, env: Record<string, string>) {
  const out = await new Deno.Command("bash", {
    args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", script],
    cwd,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("ci.yml: push and pull_request, Deno v2.9.6, deno task ok, then strict model-clean", async () => {
  const wf = await readWorkflow("ci.yml");
  assert.ok("push" in wf.on && "pull_request" in wf.on, "runs on push and pull_request");
  assert.equal(wf.on.push?.paths, undefined, "every push, whatever it touches");
  const job = Object.values(wf.jobs).find((j) => stepIndex(j, /^deno task ok\s*$/m) >= 0);
  assert.ok(job, "a job runs deno task ok");
  assertSetupDeno(job, "ci");
  const ok = stepIndex(job, /^deno task ok\s*$/m);
  const clean = stepIndex(job, /^deno task model-clean\b/m);
  assert.ok(clean > ok, "model-clean runs after deno task ok");
  const env = { ...wf.env, ...job.env, ...job.steps[clean]!.env };
  assert.equal(env.BITNET_STRICT_MODE, "1", "model-clean runs in strict mode");
});

Deno.test("deno task ok and .ci/run type-check every JSDoc example of lib/ and tasks/", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)) as {
    tasks: Record<string, { command: string }>;
  };
  const docCheck = /\bdeno check (--frozen )?--doc lib\/ tasks\//;
  assert.match(denoJson.tasks.ok!.command, docCheck, "deno task ok");
  const ciRun = await Deno.readTextFile(`${REPO}/.ci/run`);
  assert.match(ciRun, docCheck, ".ci/run");
});

Deno.test("gguf_build_and_validate.yml: inputs, triggers, strict deterministic env", async () => {
  const wf = await readWorkflow("gguf_build_and_validate.yml");
  const inputs = wf.on.workflow_dispatch?.inputs ?? {};
  assert.deepEqual(Object.keys(inputs).sort(), [
    "model_dir",
    "out_dir",
    "tokenizer_json",
    "validate_only",
  ]);
  assert.equal(inputs.validate_only?.type, "boolean");
  assert.equal(inputs.validate_only?.default, false);
  const paths = ["tasks/**", "lib/**", ".github/workflows/gguf_build_and_validate.yml"];
  assert.deepEqual(wf.on.push?.paths, paths);
  assert.deepEqual(wf.on.pull_request?.paths, paths);
  for (
    const [k, v] of Object.entries({
      STRICT_MODE: "1",
      DETERMINISTIC: "1",
      SEED: "42",
      THREADS: "1",
    })
  ) {
    assert.equal(wf.env?.[`BITNET_${k}`], v, `env BITNET_${k}`);
  }
  for (const name of CORRECTION_VARIABLES) assert.ok(!(name in (wf.env ?? {})), name);
  // The string inputs reach the steps through env entries whose push value is the input's default.
  for (
    const [input, variable] of [["model_dir", "MODEL_DIR"], ["tokenizer_json", "TOKENIZER_JSON"], [
      "out_dir",
      "OUT_DIR",
    ]] as const
  ) {
    const value = wf.env?.[variable] ?? "";
    assert.match(
      value,
      new RegExp(`inputs\\.${input}\\b`),
      `${variable} comes from inputs.${input}`,
    );
    assert.equal(onPush(value), inputs[input]?.default, `${variable} on a push`);
  }
});

Deno.test("gguf job: guard, export (unless validate_only), validate, baseline, artifacts always", async () => {
  const wf = await readWorkflow("gguf_build_and_validate.yml");
  const job = Object.values(wf.jobs).find((j) => stepIndex(j, /deno task model-export\b/) >= 0);
  assert.ok(job, "a job exports");
  assertSetupDeno(job, "gguf");
  assert.equal(
    job.defaults?.run?.shell,
    "bash",
    "bash, hence -o pipefail: tee keeps the exit code",
  );
  const guard = job.steps.findIndex((s) => CORRECTION_VARIABLES.every((v) => s.run?.includes(v)));
  const exp = stepIndex(job, /deno task model-export\b/);
  const val = stepIndex(job, /deno task model-validate\b/);
  const base = stepIndex(job, /deno task model-baseline\b/);
  const upload = job.steps.findIndex((s) => s.uses?.startsWith("actions/upload-artifact@"));
  assert.ok(guard >= 0 && guard < exp && exp < val && val < base && base < upload, "step order");

  assert.match(String(job.steps[exp]!.if), /^\$\{\{\s*!\s*inputs\.validate_only\s*\}\}$/);
  for (const i of [guard, val]) {
    const s: Step = job.steps[i]!;
    assert.equal(s.if, undefined, `"${s.name}" always runs after the steps before it succeed`);
  }
  for (const s of job.steps) {
    assert.ok(!s["continue-on-error"], `"${s.name}" cannot hide a failure`);
    assert.ok(!/\|\|\s*(true|:)\b/.test(s.run ?? ""), `"${s.name}" cannot hide a failure`);
  }
  const validate = job.steps[val]!.run!;
  assert.match(validate, /"\$OUT_DIR\/clean-f16\.gguf"/);
  assert.match(validate, /--report\s+"\$OUT_DIR\/validate-report\.json"/);

  const up = job.steps[upload]!;
  assert.match(String(up.if), /always\(\)/);
  assert.match(up.uses!, /^actions\/upload-artifact@v4$/);
  const patterns = String(up.with?.path).trim().split("\n").map((p) => p.trim());
  for (const kind of [/\*\.gguf$/, /\*\.fingerprint$/, /\*\.meta\.json$/, /baseline/, /LOG_DIR/]) {
    assert.ok(patterns.some((p) => kind.test(p)), `artifact ${kind}`);
  }
});

Deno.test("the correction-variable guard fails when any of them is set, even empty", async () => {
  const wf = await readWorkflow("gguf_build_and_validate.yml");
  const job = Object.values(wf.jobs).find((j) => stepIndex(j, /deno task model-export\b/) >= 0)!;
  const guard = job.steps.find((s) => CORRECTION_VARIABLES.every((v) => s.run?.includes(v)))!;
  const tmp = await Deno.makeTempDir({ prefix: "guard_" });
  try {
    const clean = await runStep(guard.run!, tmp, stepEnv(wf, job, guard));
    assert.equal(clean.code, 0, clean.output);
    for (const name of CORRECTION_VARIABLES) {
      for (const value of ["1", ""]) {
        const r = await runStep(guard.run!, tmp, stepEnv(wf, job, guard, { [name]: value }));
        assert.equal(r.code, 1, `${name}=${JSON.stringify(value)}: ${r.output}`);
        assert.match(r.output, new RegExp(`::error::${name}`));
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("gguf job on a push, run here: every artifact pattern matches outputs", async () => {
  const wf = await readWorkflow("gguf_build_and_validate.yml");
  const job = Object.values(wf.jobs).find((j) => stepIndex(j, /deno task model-export\b/) >= 0)!;
  const copy = await Deno.makeTempDir({ prefix: "gguf_job_" });
  try {
    await copyRepository(copy);
    for (const step of job.steps) {
      if (step.run === undefined) continue;
      const r = await runStep(step.run, copy, stepEnv(wf, job, step));
      assert.equal(r.code, 0, `step "${step.name}":\n${r.output.slice(-3000)}`);
    }
    const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"))!;
    const env = stepEnv(wf, job, upload);
    for (const raw of String(upload.with?.path).trim().split("\n")) {
      const pattern = raw.trim().replace(
        /\$\{\{\s*env\.(\w+)\s*\}\}/g,
        (_, k: string) => env[k] ?? "",
      );
      const r = await runStep(`shopt -s nullglob; set -- ${pattern}; echo "$#"`, copy, env);
      assert.ok(Number(r.output.trim()) > 0, `artifact pattern ${raw.trim()} matches nothing`);
    }
    const report = JSON.parse(await Deno.readTextFile(`${copy}/models/clean/validate-report.json`));
    assert.equal(report.exitCode, 0);
    assert.equal(report.environment.strict, true);
    assert.equal(report.environment.deterministic, true);
    assert.equal(report.environment.threads, 1);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

Deno.test("compile job: deno task compile, --help of every binary, model-validate on an export", async () => {
  const wf = await readWorkflow("gguf_build_and_validate.yml");
  const job = Object.values(wf.jobs).find((j) => stepIndex(j, /^deno task compile\b/m) >= 0);
  assert.ok(job, "a job runs deno task compile");
  assertSetupDeno(job, "compile");
  const build = stepIndex(job, /^deno task compile\b/m);
  const help = stepIndex(job, /--help/);
  const smoke = stepIndex(job, /^dist\/model-validate\b/m);
  assert.ok(build < help && build < smoke, "smoke tests after the build");
  assert.match(job.steps[help]!.run!, /for \w+ in dist\/\*/, "--help of every binary");
  const script = job.steps[smoke]!.run!;
  const exported = /^dist\/model-export \S+ \S+ (\S+)/m.exec(script);
  assert.ok(exported, "the smoke test exports the fixture with the binary");
  assert.match(script, new RegExp(`^dist/model-validate ${exported[1]}/clean-f16\\.gguf\\b`, "m"));
  const names = new Set(BINARIES.map((b) => b.name));
  for (const [, name] of script.matchAll(/^dist\/([\w-]+)/gm)) assert.ok(names.has(name!), name);
});

Deno.test("workflows: tasks exist, actions pinned, no expression pasted into a script", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`)).tasks as Record<
    string,
    unknown
  >;
  for (const file of ["ci.yml", "gguf_build_and_validate.yml"]) {
    const wf = await readWorkflow(file);
    for (const [jobName, job] of Object.entries(wf.jobs)) {
      assert.ok(job["runs-on"], `${file}: ${jobName} has runs-on`);
      for (const s of job.steps) {
        for (const [, task] of (s.run ?? "").matchAll(/\bdeno task ([\w:-]+)/g)) {
          assert.ok(
            task! in tasks,
            `${file}: "${s.name}" runs deno task ${task}, not in deno.json`,
          );
        }
        if (s.uses) assert.match(s.uses, /^[\w-]+\/[\w-]+@v\d+$/, `${file}: ${s.uses} pinned`);
        assert.ok(!s.run?.includes("${{"), `${file}: "${s.name}" pastes an expression into bash`);
      }
    }
  }
});
