/**
 * No function in lib/ is longer than 80 lines (the house style: long
 * functions are split into named steps). Every function-like node counts —
 * declarations, methods, constructors, accessors, function expressions and
 * arrow functions — measured by the TypeScript compiler's own parse, from the
 * line of its first token to the line of its last.
 */

import assert from "node:assert/strict";
import { relative } from "node:path";
import { typescript } from "../../deps.ts";

const LIMIT = 80;

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* tsFiles(path);
    else if (e.name.endsWith(".ts") && e.name !== "wasm_bytes.ts") yield path;
  }
}

/** Every function of `text` longer than `limit` lines, as "file:line name (n lines)". */
async function longFunctions(path: string, text: string, limit: number): Promise<string[]> {
  const ts = await typescript();
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: Parameters<typeof ts.forEachChild>[0]) => {
    if (ts.isFunctionLike(node) && (node as { body?: unknown }).body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      if (lines > limit) {
        const name = node.name && ts.isIdentifier(node.name) ? node.name.text : "(anonymous)";
        found.push(`${relative(".", path)}:${first + 1} ${name} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

Deno.test(`no function in lib/ is longer than ${LIMIT} lines`, async () => {
  const long: string[] = [];
  for await (const path of tsFiles("lib")) {
    long.push(...await longFunctions(path, await Deno.readTextFile(path), LIMIT));
  }
  assert.deepEqual(long, [], `functions over ${LIMIT} lines:\n${long.join("\n")}`);
});

Deno.test("the measure sees a long function, an arrow function and a method", async () => {
  const body = Array.from({ length: LIMIT }, (_, i) => `  x += ${i};`).join("\n");
  const text = `function f() {\n  let x = 0;\n${body}\n}\n` +
    `const g = () => {\n${body}\n};\nclass C {\n  m() {\n${body}\n  }\n}\n` +
    `function short() {\n  return 1;\n}\n`;
  const found = await longFunctions("lib/x.ts", text, LIMIT);
  assert.deepEqual(found.map((f) => f.replace(/ \(\d+ lines\)$/, "")), [
    "lib/x.ts:1 f",
    `lib/x.ts:${LIMIT + 4} (anonymous)`,
    `lib/x.ts:${2 * LIMIT + 7} m`,
  ]);
});
