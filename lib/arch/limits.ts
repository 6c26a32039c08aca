/**
 * Declared counts checked against what a file holds. A header's counts
 * (block_count, heads, vocabulary, dims) decide how many tensors are expected
 * and how large buffers are, so each is checked against the tensors the file
 * actually lists before anything is sized from it: a hostile
 * `block_count = 1e9` is a typed error naming the key, never a billion-entry
 * table. The reader has already bounded every tensor's dims by the file size,
 * so these bounds keep all sizing proportional to the file.
 *
 * @example
 * ```ts
 * import { checkDeclaredCounts, heldCounts } from "./limits.ts";
 * import { architectureOf } from "./registry.ts";
 * import type { Hparams } from "./hparams.ts";
 * declare const h: Hparams;
 * const held = heldCounts(architectureOf("llama"), [{ name: "blk.0.attn_q.weight", shape: [64, 64] }], "gguf");
 * checkDeclaredCounts(h, held, { source: "model.gguf", keyOf: (name) => `llama.${name}` });
 * ```
 * @module
 */

import { ModelShapeError } from "../errors.ts";
import type { HparamName, Hparams } from "./hparams.ts";
import type { ArchSpec } from "./registry.ts";

/** What a quantity is bounded by in the file. */
type Bound =
  /** The number of blocks whose tensors the file lists. */
  | "blocks"
  /** The largest dimension of any tensor the file lists. */
  | "dim"
  /** Nothing in the file: the run sizes its memory from what it needs (see {@link runContext}). */
  | "run"
  /** Not a count (a float). */
  | "none";

/**
 * Every quantity of the hyper-parameter table, classified (a new row must be
 * classified here), in the order they are checked: the block count first.
 */
const BOUNDS: Readonly<Record<HparamName, Bound>> = {
  nLayer: "blocks",
  contextLength: "run",
  nEmbd: "dim",
  nFf: "dim",
  nHead: "dim",
  nHeadKv: "dim",
  eps: "none",
  ropeTheta: "none",
  headDim: "dim",
  valueDim: "dim",
  ropeDim: "dim",
  vocabSize: "dim",
};

/** Per-layer name patterns of a family (from its tensor table), `{N}` as a capture. */
function layerPatterns(arch: ArchSpec, naming: "gguf" | "hf"): RegExp[] {
  const names = arch.tensors.flatMap((r) => naming === "gguf" ? [r.gguf] : r.hf);
  return names.map((n) => {
    const [before, after] = n.split("{N}").map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp(`^${before}(\\d+)${after}$`);
  });
}

/** What a file's tensor table holds, for {@link checkDeclaredCounts}. */
export type HeldCounts = ReturnType<typeof heldCounts>;

/**
 * The number of distinct blocks whose tensors `tensors` (names and shapes, as
 * a header lists them) holds by the family's tensor table, the largest
 * dimension of any tensor, and what lists them ("the file" or "the checkpoint").
 *
 * @example
 * ```ts
 * import { architectureOf } from "./registry.ts";
 * heldCounts(architectureOf("llama"), [{ name: "blk.3.attn_q.weight", shape: [8, 4] }], "gguf");
 * // { blocks: 1, largestDim: 8, holder: "the file" }
 * ```
 */
export function heldCounts(
  arch: ArchSpec,
  tensors: Iterable<{ readonly name: string; readonly shape: readonly number[] }>,
  naming: "gguf" | "hf",
) {
  const patterns = layerPatterns(arch, naming);
  const blocks = new Set<string>();
  let largestDim = 0;
  for (const t of tensors) {
    for (const d of t.shape) largestDim = Math.max(largestDim, d);
    const m = patterns.map((p) => p.exec(t.name)).find((m) => m !== null);
    if (m) blocks.add(m[1]!);
  }
  return {
    blocks: blocks.size,
    largestDim,
    holder: naming === "gguf" ? "the file" : "the checkpoint",
  };
}

/**
 * Checks that no declared count exceeds what the file holds: the block count
 * exactly the blocks whose tensors it lists, every dimension (embedding, feed
 * forward, heads, head size, vocabulary) at most its largest tensor dimension.
 * A {@link ModelShapeError} (the tensors the count implies are missing or
 * misshapen) names the key, its value, the file and what it holds.
 * Run before any table or buffer is sized from `h` (values that are not
 * numbers are left to the hyper-parameter check); the tensor plan then checks
 * every shape exactly.
 *
 * @example
 * ```ts
 * import type { Hparams } from "./hparams.ts";
 * declare const h: Hparams; // nLayer 1e9
 * checkDeclaredCounts(h, { blocks: 4, largestDim: 2048, holder: "the file" }, {
 *   source: "m.gguf",
 *   keyOf: (n) => n,
 * });
 * // ModelShapeError: m.gguf: nLayer = 1000000000, but the file lists tensors of 4 block(s)
 * ```
 */
export function checkDeclaredCounts(
  h: Hparams,
  held: HeldCounts,
  check: { readonly source: string; readonly keyOf: (name: HparamName) => string },
): void {
  for (const [name, bound] of Object.entries(BOUNDS) as [HparamName, Bound][]) {
    const v = h[name];
    if (bound === "blocks" && v !== held.blocks) {
      // Fewer declared blocks than listed would silently run a shallower model.
      const why = v > held.blocks
        ? "the tensors of the others are missing"
        : "the tensors of the others would be ignored";
      throw new ModelShapeError(
        `${check.source}: ${
          check.keyOf(name)
        } = ${v}, but ${held.holder} lists tensors of ${held.blocks} block(s): ${why}`,
      );
    }
    if (bound === "dim" && v > held.largestDim) {
      throw new ModelShapeError(
        `${check.source}: ${
          check.keyOf(name)
        } = ${v} is larger than any tensor dimension in ${held.holder} (the largest is ${held.largestDim})`,
      );
    }
  }
}

/**
 * The KV-cache positions a run sizes its memory for: what it needs, capped by
 * the model's context length. One rule for every task that runs the model, so
 * that a context length is never a reason to allocate (any positive u32 is
 * accepted; a run longer than it stops at the context's end).
 *
 * @example
 * ```ts
 * runContext(4294967295, 40); // 40
 * runContext(256, 1000); // 256
 * ```
 */
export function runContext(contextLength: number, need: number): number {
  return Math.max(1, Math.min(contextLength, need));
}
