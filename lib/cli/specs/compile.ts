/**
 * `compile`'s command line (a tool of the checkout: not itself a binary).
 *
 * @example
 * ```ts
 * import { COMPILE_SPEC } from "./compile.ts";
 * COMPILE_SPEC.options.out.default.output; // "dist"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";

/** compile. */
export const COMPILE_SPEC = {
  name: "compile",
  script: "tasks/compile.ts",
  summary:
    "Build single-file binaries of the tasks (deno compile) into dist/; needs Deno's runtime download.",
  description:
    "Builds one single-file binary per model-* task (deno compile) into dist/. A binary takes the\n" +
    "task's arguments and may read anything, write where its arguments point, read the task's\n" +
    "environment variables, and has no network (docs/explanation/permissions.md).\n" +
    "deno compile downloads Deno's runtime for the target from dl.deno.land on first use\n" +
    "(exit 20 when it cannot; exit 1 when deno compile fails otherwise, with its output).",
  positionals: [],
  options: {
    out: { type: "string", value: "DIR", help: "output folder", default: { output: "dist" } },
    only: {
      type: "string",
      value: "NAMES",
      help: "comma-separated binaries to build (default: all)",
    },
    target: {
      type: "string",
      value: "TRIPLE",
      help: "cross-compile, e.g. aarch64-apple-darwin, x86_64-pc-windows-msvc",
    },
    lock: {
      type: "string",
      value: "FILE",
      help: "lock file to check against (default: deno.json's)",
    },
    "no-check": {
      type: "boolean",
      help: "skip type checking (deno task ok type-checks everything)",
    },
    list: { type: "boolean", help: "print the deno compile commands, build nothing" },
  },
  examples: ["compile", "compile --only model-validate --out /tmp/bin", "compile --list"],
  exitCodes: [20],
} as const satisfies TaskSpec;
