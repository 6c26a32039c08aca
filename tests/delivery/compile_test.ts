/**
 * tasks/compile.ts: one binary per task spec (and so per `deno task model-*`), and its
 * `--include` list names every worker module and data file the scripts load
 * at run time (found here by scanning lib/ and the scripts, independently of
 * compile.ts). Building needs Deno's runtime download (dl.deno.land): the
 * live step accepts a built binary that answers --help, or the clear
 * exit-20 failure where the host is unreachable, and nothing else.
 *
 * @module
 */

import assert from "node:assert/strict";
import { BINARIES, binaryFlags, COMPILE_INCLUDES, compileArgs } from "../../tasks/compile.ts";
import { TASK_SPECS } from "../../lib/cli/specs.ts";
import { REPO, runtimeLoads, scanRuntimeLoads, tsFiles } from "./_scan.ts";

Deno.test("scanRuntimeLoads: workers, data files, unresolvable loads", () => {
  const text = [
    `const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });`,
    `const rules = await Deno.readTextFile(new URL("../data/rules.json", import.meta.url));`,
    `const spec = import.meta.resolve("./table.bin");`,
    `const mod = new URL("./other.ts", import.meta.url).href;`,
    `const v = new Worker(url);`,
    `const m = await import(name);`,
    `const n = await import("./static.ts");`,
    ` * new Worker(new URL("./doc_only.ts", import.meta.url))`,
  ].join("\n");
  assert.deepEqual(
    scanRuntimeLoads("lib/x/a.ts", text).map((l) => [l.line, l.kind, l.target]),
    [
      [1, "worker", "lib/x/worker.ts"],
      [2, "data", "lib/data/rules.json"],
      [3, "data", "lib/x/table.bin"],
      [5, "unresolvable", ""],
      [6, "unresolvable", ""],
    ],
  );
});

Deno.test("compile includes every worker and data file the scripts load, and nothing else", async () => {
  const scripts = BINARIES.map((b) => b.script);
  const loads = await runtimeLoads(["lib"], scripts);
  const unresolvable = loads.filter((l) => l.kind === "unresolvable");
  assert.deepEqual(unresolvable, [], "a load whose target is not a literal cannot be included");
  const needed = [...new Set(loads.map((l) => l.target))].sort();
  assert.ok(needed.includes("lib/inference/kernels/worker.ts"), "the scan finds the kernel worker");
  assert.deepEqual([...COMPILE_INCLUDES].sort(), needed);
  for (const path of COMPILE_INCLUDES) assert.ok(Deno.statSync(`${REPO}/${path}`).isFile, path);
});

Deno.test("one binary per deno task model-*, built from the task's script, with write but no network", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  const launched = Object.keys(denoJson.tasks).filter((name) => name.startsWith("model-")).sort();
  assert.deepEqual(BINARIES.map((b) => b.name).sort(), launched);
  for (const b of BINARIES) {
    assert.equal(b.script, TASK_SPECS[b.name]!.script);
    assert.ok(Deno.statSync(`${REPO}/${b.script}`).isFile, b.script);
    // Deno fixes a binary's permissions at build time: writes go where the arguments point.
    assert.deepEqual(b.flags.slice(0, 2), ["--allow-read", "--allow-write"]);
    assert.ok(!b.flags.some((f) => f.startsWith("--allow-net") || f === "-A"), b.name);
    const env = b.flags.find((f) => f.startsWith("--allow-env="));
    assert.ok(env?.includes("BITNET_STRICT_MODE"), `${b.name} reads the BITNET_* variables`);
    assert.equal(env?.includes("HF_TOKEN"), TASK_SPECS[b.name]!.network !== undefined, b.name);
  }
  assert.deepEqual(
    binaryFlags(TASK_SPECS["model-probe"]!),
    BINARIES.find((b) => b.name === "model-probe")!.flags,
  );
  // Every script of tasks/ is delivered as a binary, except those that only make sense in a checkout.
  const delivered = new Set(BINARIES.map((b) => b.script));
  const left = tsFiles("tasks").filter((s) => !delivered.has(s));
  assert.deepEqual(left, ["tasks/build_native.ts", "tasks/build_wasm.ts", "tasks/compile.ts"]);
});

Deno.test("compileArgs: frozen lock, every include, the task's flags, entry and output", () => {
  const binary = BINARIES.find((b) => b.name === "model-validate");
  assert.ok(binary, "model-validate is built");
  const args = compileArgs(binary, { outDir: "out", target: "aarch64-apple-darwin", check: false });
  assert.equal(args[0], "compile");
  assert.ok(args.includes("--frozen"));
  assert.ok(args.includes("--no-check"));
  assert.deepEqual(args.slice(args.indexOf("--target"), args.indexOf("--target") + 2), [
    "--target",
    "aarch64-apple-darwin",
  ]);
  const includes = args.flatMap((a, i) => (args[i - 1] === "--include" ? [a] : []));
  assert.deepEqual(includes, COMPILE_INCLUDES.map((p) => new URL(p, `file://${REPO}/`).href));
  for (const flag of binary.flags) assert.ok(args.includes(flag), flag);
  assert.deepEqual(args.slice(args.indexOf("--output"), args.indexOf("--output") + 3), [
    "--output",
    "out/model-validate",
    new URL(binary.script, `file://${REPO}/`).href,
  ]);
});

Deno.test("deno task compile: a binary that answers --help, or exit 20 naming the download", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "compile_" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        "--allow-run=deno",
        "tasks/compile.ts",
        "--only",
        "model-inspect-ln",
        "--out",
        tmp,
        "--no-check",
      ],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(300_000),
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    const binary = `${tmp}/model-inspect-ln`;
    if (out.code === 0) {
      assert.equal(stdout.trim(), binary);
      const help = await new Deno.Command(binary, { args: ["--help"], stdout: "piped" }).output();
      assert.equal(help.code, 0);
      assert.match(new TextDecoder().decode(help.stdout), /Usage: model-inspect-ln/);
    } else {
      assert.equal(out.code, 20, `exit ${out.code}\n${stderr}`);
      assert.match(stderr, /could not download Deno's runtime .*denort.* https:\/\/dl\.deno\.land/);
      assert.deepEqual([...Deno.readDirSync(tmp)], [], "no partial binary is left");
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
