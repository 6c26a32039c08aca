/**
 * The PyTorch reference outputs of the fixture (reference.json, computed by an
 * independent implementation) and the acceptance bar every engine path must
 * meet against them: greedy ids over the stable prefix, the top-1 id and the
 * top-10 logits within 0.1 at the last prompt position.
 *
 * @example
 * ```ts
 * import { assertMatchesReference } from "./_reference.ts";
 * assertMatchesReference(engine, "clean-f16.gguf [wasm]");
 * ```
 * @module
 */

import assert from "node:assert/strict";
import { type InferenceEngine, topK } from "../lib/inference/engine.ts";
import { FIXTURE_DIR } from "./_models.ts";

/** One prompt of reference.json. */
export interface ReferencePrompt {
  prompt: string;
  prompt_ids: number[];
  bitnet: {
    top10_last_prompt_pos: Array<[number, number]>;
    greedy_ids: number[];
    greedy_stable_prefix_len: number;
  };
}

/** reference.json of the fixture. */
export const reference = JSON.parse(await Deno.readTextFile(`${FIXTURE_DIR}/reference.json`)) as {
  prompts: ReferencePrompt[];
};

/** Logits may differ legitimately at activation-rounding boundaries (FORMATS.md §4). */
export const LOGIT_TOLERANCE = 0.1;

/** Runs every reference prompt greedily and asserts the bar; `where` labels failures. */
export function assertMatchesReference(engine: InferenceEngine, where: string): void {
  for (const p of reference.prompts) {
    const want = p.bitnet;
    const stable = want.greedy_stable_prefix_len;
    const out = engine.generate(p.prompt_ids, { maxTokens: stable });
    const at = `${where} "${p.prompt}"`;
    assert.deepEqual(out.ids, want.greedy_ids.slice(0, stable), `${at}: greedy ids`);
    assert.equal(
      topK(out.promptLogits, 1)[0]![0],
      want.top10_last_prompt_pos[0]![0],
      `${at}: top-1`,
    );
    for (const [id, logit] of want.top10_last_prompt_pos) {
      const d = Math.abs(out.promptLogits[id]! - logit);
      assert.ok(
        d <= LOGIT_TOLERANCE,
        `${at}: logit of ${id} is ${out.promptLogits[id]}, reference ${logit}`,
      );
    }
  }
}
