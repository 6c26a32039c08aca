/**
 * A GGUF's tensor table against its architecture's (lib/arch/registry.ts):
 * every tensor the hyper-parameters imply is present with its shape. The
 * engine checks this before it loads anything, and the quantizer before it
 * writes anything, with the same messages.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "./hparams.ts";
 * import { checkModelTensors } from "./model_tensors.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const found = checkModelTensors(gguf, readHparams(gguf)); // throws ModelShapeError
 * found[0]!.expected.name; // "token_embd.weight"
 * ```
 * @module
 */

import { ModelShapeError } from "../errors.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import type { ModelHparams } from "./hparams.ts";
import {
  architectureOf,
  expectedTensors,
  type ProjectionKind,
  type TensorRole,
} from "./registry.ts";

/** One tensor the architecture expects. */
export interface ExpectedTensor {
  readonly name: string;
  /** PyTorch order: [out, in] for matrices. */
  readonly shape: readonly number[];
  readonly role: TensorRole;
  /** The projection kind, for projections. */
  readonly projection?: ProjectionKind;
}

/** An expected tensor and the file's tensor that matches it. */
export interface FoundTensor {
  readonly expected: ExpectedTensor;
  readonly info: GgufTensorInfo;
}

/**
 * The tensors a model with these hyper-parameters must have, in file order.
 *
 * @example
 * ```ts
 * import type { ModelHparams } from "./hparams.ts";
 * declare const hp: ModelHparams;
 * expectedModelTensors(hp).length; // 1 + 11·n_layer + 1 for tied BitNet
 * ```
 */
export function expectedModelTensors(hp: ModelHparams): ExpectedTensor[] {
  return expectedTensors(architectureOf(hp.family), hp)
    .map((t) => ({
      name: t.gguf,
      shape: t.shape,
      role: t.rule.role,
      ...(t.rule.projection ? { projection: t.rule.projection } : {}),
    }));
}

/**
 * Checks every expected tensor's presence and shape. Missing tensors are one
 * {@link ModelShapeError} naming them (the first eight), a misshapen one names
 * the tensor, the expected and the actual shape.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "./hparams.ts";
 * const gguf = await openGguf("model.gguf");
 * checkModelTensors(gguf, readHparams(gguf));
 * ```
 */
export function checkModelTensors(g: GgufFile, hp: ModelHparams): FoundTensor[] {
  const specs = expectedModelTensors(hp);
  const missing = specs.filter((s) => !g.hasTensor(s.name)).map((s) => s.name);
  if (missing.length > 0) {
    const shown = missing.slice(0, 8).join(", ") + (missing.length > 8 ? ", ..." : "");
    throw new ModelShapeError(
      `${g.path}: ${missing.length} tensor(s) missing for ${hp.arch} with ${hp.nLayer} layers: ${shown}`,
    );
  }
  return specs.map((expected) => {
    const info = g.tensor(expected.name);
    if (!sameShape(info.shape, expected.shape)) {
      throw new ModelShapeError(
        `${g.path}: tensor ${expected.name} has shape [${info.shape.join(", ")}], expected [${
          expected.shape.join(", ")
        }] (PyTorch order; GGUF dims [${[...expected.shape].reverse().join(", ")}])`,
      );
    }
    return { expected, info };
  });
}

/**
 * True when `actual` is `expected` but for extra leading 1s: a GGUF vector
 * may be written with dims [n, 1] (PyTorch order [1, n]).
 *
 * @example
 * ```ts
 * import { sameShape } from "./model_tensors.ts";
 * sameShape([1, 256], [256]); // true
 * sameShape([256, 1], [256]); // false
 * ```
 */
export function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
  const a = [...actual];
  while (a.length > expected.length && a[0] === 1) a.shift();
  return a.length === expected.length && a.every((d, i) => d === expected[i]);
}
