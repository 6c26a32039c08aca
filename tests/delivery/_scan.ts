/**
 * Repository helpers shared by the delivery tests: the files of a folder,
 * their lines of code, what a module loads at run time outside its imports
 * (worker modules, data files next to the code), and a copy of the checkout.
 *
 * @example
 * ```ts
 * import { runtimeLoads } from "./_scan.ts";
 * for (const load of await runtimeLoads(["lib"])) console.log(load.kind, load.target);
 * ```
 * @module
 */

/** The repository root (tests run with the root as working folder). */
export const REPO: string = Deno.realPathSync(".");

/**
 * .ts files under `dir` (repository-relative), recursively, sorted.
 *
 * @example
 * ```ts
 * tsFiles("tasks"); // ["tasks/build_wasm.ts", ...]
 * ```
 */
export function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(`${REPO}/${rel}`)) {
      const path = `${rel}/${e.name}`;
      if (e.isDirectory) walk(path);
      else if (e.isFile && e.name.endsWith(".ts")) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Lines of code with their 1-based numbers; JSDoc and line comments left out.
 *
 * @example
 * ```ts
 * codeLines("// note\nconst a = 1;"); // [[2, "const a = 1;"]]
 * ```
 */
export function codeLines(text: string): [number, string][] {
  return text.split("\n")
    .map((line, i): [number, string] => [i + 1, line])
    .filter(([, line]) => !/^\s*(\*|\/\/|\/\*)/.test(line));
}

/** Something a module loads at run time that its imports do not name. */
export interface RuntimeLoad {
  /** The module that loads it (repository-relative). */
  file: string;
  line: number;
  /** A worker module, a data file, or a load whose target no scan can know. */
  kind: "worker" | "data" | "unresolvable";
  /** Repository-relative path of what is loaded ("" when unresolvable). */
  target: string;
  source: string;
}

/** Resolves `relative` (a module-relative literal) against `file`, both from the root. */
function resolveFrom(file: string, relative: string): string {
  const url = new URL(relative, `file:///${file}`);
  return decodeURIComponent(url.pathname.slice(1));
}

const MODULE_EXT = /\.(ts|tsx|js|mjs|mts|jsx)$/;

/**
 * What the modules of `text` load at run time: `new Worker(new URL("x",
 * import.meta.url))` (a worker), `new URL("x", import.meta.url)` of a
 * non-module file or `import.meta.resolve("x")` (data), and any `new Worker(`
 * or dynamic `import(` whose target is not a literal (unresolvable).
 *
 * @example
 * ```ts
 * scanRuntimeLoads("lib/a.ts", `new Worker(new URL("./w.ts", import.meta.url));`);
 * // [{ file: "lib/a.ts", line: 1, kind: "worker", target: "lib/w.ts", source: ... }]
 * ```
 */
export function scanRuntimeLoads(file: string, text: string): RuntimeLoad[] {
  const loads: RuntimeLoad[] = [];
  for (const [line, code] of codeLines(text)) {
    const add = (kind: RuntimeLoad["kind"], target: string) =>
      loads.push({ file, line, kind, target, source: code.trim() });
    const workers = [
      ...code.matchAll(/new Worker\(\s*new URL\(\s*(["'])([^"']+)\1\s*,\s*import\.meta\.url\s*\)/g),
    ];
    for (const m of workers) add("worker", resolveFrom(file, m[2]!));
    const allWorkers = code.split("new Worker(").length - 1;
    for (let i = workers.length; i < allWorkers; i++) add("unresolvable", "");
    for (
      const m of code.matchAll(
        /(?<!new Worker\(\s*)new URL\(\s*(["'])([^"']+)\1\s*,\s*import\.meta\.url\s*\)/g,
      )
    ) {
      // A folder URL (lib/cli/paths.ts locating the checkout) loads no file by itself.
      if (!MODULE_EXT.test(m[2]!) && !m[2]!.endsWith("/")) add("data", resolveFrom(file, m[2]!));
    }
    for (const m of code.matchAll(/import\.meta\.resolve\(\s*(["'])([^"']+)\1\s*\)/g)) {
      add("data", resolveFrom(file, m[2]!));
    }
    // A dynamic import of a literal is in the module graph; of anything else, nobody can tell.
    for (const _ of code.matchAll(/(?<![\w.$])import\(\s*(?!["'`])/g)) add("unresolvable", "");
  }
  return loads;
}

/**
 * {@link scanRuntimeLoads} over every .ts file of `dirs` and of `files`.
 *
 * @example
 * ```ts
 * const loads = await runtimeLoads(["lib"], ["tasks/validate_gguf.ts"]);
 * ```
 */
export async function runtimeLoads(
  dirs: readonly string[],
  files: readonly string[] = [],
): Promise<RuntimeLoad[]> {
  const all = [...dirs.flatMap((d) => tsFiles(d)), ...files];
  const loads: RuntimeLoad[] = [];
  for (const file of [...new Set(all)].sort()) {
    loads.push(...scanRuntimeLoads(file, await Deno.readTextFile(`${REPO}/${file}`)));
  }
  return loads;
}

/**
 * The files a fresh clone would have, plus untracked files that are not
 * ignored (from git; without git, a walk that skips the ignored folders).
 *
 * @example
 * ```ts
 * const files = await checkoutFiles(); // ["README.md", "deno.json", ...]
 * ```
 */
export async function checkoutFiles(): Promise<string[]> {
  try {
    const out = await new Deno.Command("git", {
      args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      cwd: REPO,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.code === 0) return new TextDecoder().decode(out.stdout).split("\0").filter((f) => f);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const skip = /^(\.git|models|dist|node_modules|bench\/out)(\/|$)/;
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(rel ? `${REPO}/${rel}` : REPO)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (skip.test(path)) continue;
      if (e.isDirectory) walk(path);
      else if (e.isFile) files.push(path);
    }
  };
  walk("");
  return files;
}

/**
 * Copies the repository's files ({@link checkoutFiles}) into the folder `to`.
 *
 * @example
 * ```ts
 * const copy = await Deno.makeTempDir();
 * await copyRepository(copy);
 * ```
 */
export async function copyRepository(to: string): Promise<void> {
  for (const file of await checkoutFiles()) {
    const dir = file.includes("/") ? `${to}/${file.slice(0, file.lastIndexOf("/"))}` : to;
    await Deno.mkdir(dir, { recursive: true });
    try {
      await Deno.copyFile(`${REPO}/${file}`, `${to}/${file}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e; // tracked but deleted in the work tree
    }
  }
}
