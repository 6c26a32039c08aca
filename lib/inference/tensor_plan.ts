/**
 * The tensors a BitNet or Llama model must have (docs/reference/formats.md, "Tensor names"), with the
 * shape each must have for the hyperparameters, checked against a GGUF file
 * before anything is loaded or computed.
 *
 * @example
 * ```ts
 * import { planTensors } from "./tensor_plan.ts";
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "../arch/hparams.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const plan = planTensors(gguf, readHparams(gguf)); // throws ModelShapeError / UnsupportedError
 * plan.find((t) => t.name === "blk.0.attn_q.weight")?.storage; // "ternary"
 * ```
 * @module
 */

import { UnsupportedError } from "../errors.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { typeNames, typesWith } from "../codecs/table.ts";
import type { ModelHparams } from "../arch/hparams.ts";
import { checkModelTensors, type ExpectedTensor } from "../arch/model_tensors.ts";

/** How a tensor is kept in kernel memory. */
export type TensorStorage = "ternary" | "float" | "norm";

/** An expected tensor found in the file with the right shape and a usable type. */
export interface PlannedTensor extends ExpectedTensor {
  readonly info: GgufTensorInfo;
  readonly storage: TensorStorage;
}

/** The storage a tensor gets (BitLinear projections: ternary), and the stored types it accepts. */
function storageOf(spec: ExpectedTensor, hp: ModelHparams): {
  storage: TensorStorage;
  types: readonly number[];
} {
  if (spec.role === "norm") return { storage: "norm", types: typesWith("float") };
  if (spec.projection !== undefined && hp.bitlinear.includes(spec.projection)) {
    return { storage: "ternary", types: [...typesWith("float"), ...typesWith("ternary")] };
  }
  return { storage: "float", types: typesWith("float") };
}

/**
 * Checks every expected tensor's presence, shape and type, all before any
 * tensor is read. Missing or misshapen tensors are a {@link ModelShapeError}
 * naming the tensor, the expected and the actual shape; a stored type the
 * engine cannot use for that tensor is an {@link UnsupportedError}.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "../arch/hparams.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const plan = planTensors(gguf, readHparams(gguf));
 * ```
 */
export function planTensors(g: GgufFile, hp: ModelHparams): PlannedTensor[] {
  return checkModelTensors(g, hp).map(({ expected: spec, info }) => {
    const { storage, types } = storageOf(spec, hp);
    if (!types.includes(info.type)) {
      throw new UnsupportedError(
        `${g.path}: tensor ${spec.name} is stored as ${
          typeNames([info.type])
        }, which the engine cannot use for a ${hp.family} ${spec.role} (supported: ${
          typeNames(types)
        })`,
      );
    }
    return { ...spec, info, storage };
  });
}
