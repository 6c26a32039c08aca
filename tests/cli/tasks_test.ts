/**
 * The tasks as `deno task` runs them from a user's folder: strict mode in
 * every task that runs or judges a model, the messages a new user meets
 * first, and where a private key may be written.
 */

import assert from "node:assert/strict";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { REPO } from "../delivery/_scan.ts";
import { exists, show, userTask } from "../delivery/_user.ts";
import { FIXTURE_DIR } from "../_models.ts";

const user = await Deno.makeTempDir({ prefix: "cli_tasks_" });
const FIXTURE = `${REPO}/${FIXTURE_DIR}`;
const TOKENIZER = `${FIXTURE}/tokenizer.json`;
const { ggufPath } = await exportCleanGguf({ modelDir: FIXTURE, outDir: `${user}/m`, quiet: true });

Deno.test("strict mode: every task that runs or judges a model refuses a correction variable with 16, before writing", async () => {
  const strict = { BITNET_STRICT_MODE: "1", BITNET_FIX_LN_SCALE: "1" };
  const cases: [string, string[]][] = [
    ["model-probe", [ggufPath]],
    ["model-validate", [ggufPath, "--report", "s/validate.json"]],
    ["model-inspect-ln", [ggufPath]],
    ["model-baseline", [ggufPath, TOKENIZER, "s/baseline.md"]],
    ["model-check", [FIXTURE, TOKENIZER, "--out-dir", "s/check"]],
    ["model-clean", [FIXTURE, "", "s/clean"]],
  ];
  const runs = await Promise.all(cases.map(([name, args]) => userTask(user, name, args, strict)));
  cases.forEach(([name, args], i) => {
    const r = runs[i]!;
    assert.equal(r.code, 16, show(name, args, r));
    assert.match(r.stdout + r.stderr, /BITNET_FIX_LN_SCALE=1/, name);
  });
  // model-validate records the refusal in its report; the others stop before anything is written.
  assert.deepEqual(
    (await exists(`${user}/s`)) ? [...Deno.readDirSync(`${user}/s`)].map((e) => e.name) : [],
    [
      "validate.json",
    ],
  );
});

Deno.test("messages: a path named once, a missing model folder, the tokenizer file read, --expect", async () => {
  await Deno.writeTextFile(`${user}/not.gguf`, "hello");
  const [validate, inspect, missingDir, fileDir, missingTok, wrongTok, expect] = await Promise.all([
    userTask(user, "model-validate", ["not.gguf"]),
    userTask(user, "model-inspect-ln", ["not.gguf"]),
    userTask(user, "model-export", ["nothere", "", "o"]),
    userTask(user, "model-export", ["not.gguf", "", "o"]),
    userTask(user, "model-probe", [ggufPath, "--tokenizer", "missing.json"]),
    userTask(user, "model-probe", [ggufPath, "--tokenizer", `${FIXTURE}/config.json`]),
    userTask(user, "model-validate", [ggufPath, "--expect", "London"]),
  ]);
  for (const r of [validate, inspect]) {
    assert.equal(r.code, 10, r.stdout + r.stderr);
    assert.match(r.stdout, /not\.gguf: too small to be a GGUF file/);
    assert.doesNotMatch(r.stdout, /not\.gguf: .*not\.gguf:/, "the path is named once");
  }
  assert.equal(missingDir.code, 3);
  assert.equal(missingDir.stderr.trim(), "error: nothere: model folder not found");
  assert.equal(fileDir.code, 3);
  assert.match(fileDir.stderr, /not\.gguf: not a folder/);
  assert.equal(missingTok.code, 3);
  assert.match(missingTok.stderr, /^error: missing\.json: cannot read/);
  assert.match(wrongTok.stderr, /config\.json: /);
  assert.equal(expect.code, 15, show("model-validate", ["--expect"], expect));
  assert.match(expect.stdout, /expected text not found: the output ".*" does not contain "London"/);
  assert.match(expect.stdout, /FAILED exit 15: expected text not found \(--expect\)/);
  assert.doesNotMatch(expect.stdout, /gibberish/);
});

Deno.test("keys: a private key inside a git work tree is refused unless --force; *.key is ignored by git", async () => {
  const tree = `${user}/project`;
  await Deno.mkdir(`${tree}/.git`, { recursive: true });
  const refused = await userTask(tree, "model-sign", ["--generate-key", "--key", "keys/me.key"]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /refusing to write a private key inside the git work tree .*project.*--force/,
  );
  assert.ok(!(await exists(`${tree}/keys`)), "nothing was written");
  const forced = await userTask(tree, "model-sign", [
    "--generate-key",
    "--key",
    "keys/me.key",
    "--force",
  ]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal((await Deno.stat(`${tree}/keys/me.key`)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(`${tree}/keys`)).mode! & 0o777, 0o700);

  assert.match(await Deno.readTextFile(`${REPO}/.gitignore`), /^\*\.key$/m);
  const git = await new Deno.Command("git", {
    args: ["check-ignore", "-q", "keys/signing.key"],
    cwd: REPO,
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  if (git !== null && (await exists(`${REPO}/.git`))) {
    assert.equal(git.code, 0, "git ignores *.key");
  }
});

Deno.test("--help of every task through deno task; unknown options end in 'see --help'", async () => {
  const names = ["model-export", "model-sign", "model-probe"];
  const runs = await Promise.all(names.map((n) => userTask(user, n, ["--help"])));
  runs.forEach((r, i) => {
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: ${names[i]} `));
  });
  const bad = await userTask(user, "model-export", ["--allow-write=/tmp/x"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), "error: model-export: unknown option --allow-write; see --help");
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(user, { recursive: true });
  } catch {
    // already gone
  }
});
