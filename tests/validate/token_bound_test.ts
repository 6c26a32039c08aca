/**
 * The bound gate 3's engine is sized with before the tokenizer is built
 * (`tokenCountBound`) against llama.cpp's own ids for its Llama-3 (llama-bpe)
 * and Llama-2 (llama-spm) test vectors: every count, BOS included, stays
 * within it. Were a case above it, validate would load the engine twice.
 */

import assert from "node:assert/strict";
import { tokenCountBound } from "../../lib/validate/validate.ts";
import { PROBE_PASSAGE } from "../../lib/validate/linguistic.ts";
import { readVectors } from "../tokenizer/_gguf.ts";

for (const name of ["llama-bpe", "llama-spm"]) {
  Deno.test(`tokenCountBound covers llama.cpp's ${name} vectors (ids + BOS)`, async () => {
    const cases = await readVectors(name);
    assert.ok(cases.length >= 40, `${name}: ${cases.length} cases`);
    for (const [text, ids] of cases) {
      assert.ok(
        ids.length + 1 <= tokenCountBound(text),
        `${name}: ${JSON.stringify(text)} has ${ids.length} ids, bound ${tokenCountBound(text)}`,
      );
    }
  });
}

Deno.test("tokenCountBound is tight for one byte a token and counts UTF-8 bytes", () => {
  assert.equal(tokenCountBound(""), 2);
  assert.equal(tokenCountBound("a"), 3);
  assert.equal(tokenCountBound("é"), 4); // two UTF-8 bytes, each possibly one byte token
  assert.ok(tokenCountBound(PROBE_PASSAGE) > PROBE_PASSAGE.length);
});
