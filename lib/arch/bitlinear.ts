/**
 * Which projections of a model are BitNet b1.58 BitLinear layers (ternary
 * weights, int8 per-token absmax activations): from config.json (the
 * registry row, minus `quantization_config.modules_to_not_convert`) at
 * export, from the architecture or our own GGUF key at load
 * (docs/reference/formats.md, "Metadata keys").
 *
 * @example
 * ```ts
 * import { bitlinearFromConfig } from "./bitlinear.ts";
 * import { findArchitecture } from "./registry.ts";
 * const config = { architectures: ["LlamaForCausalLM"],
 *   quantization_config: { quant_method: "bitnet", modules_to_not_convert: ["lm_head"] } };
 * bitlinearFromConfig(config, findArchitecture(config, "config.json"), 2, "config.json").length; // 7
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";
import type { GgufFile } from "../gguf/reader.ts";
import { type ArchSpec, PROJECTION_KINDS, type ProjectionKind } from "./registry.ts";

/**
 * Our own key: the projection kinds of a "llama" file that are BitLinear. The
 * `bitnet` architectures imply all seven and never carry it.
 */
export const BITLINEAR_KEY = "clean_gguf.bitlinear_projections";

/**
 * Whether transformers' `modules_to_not_convert` entry `key` exempts the
 * module `name`: the whole name, a trailing part (`"q_proj"`,
 * `"self_attn.q_proj"`) or a leading part (`"model.layers.3"`).
 */
function exempts(key: string, name: string): boolean {
  return name === key || name.endsWith(`.${key}`) || name.startsWith(`${key}.`) ||
    name.includes(`.${key}.`);
}

/**
 * The BitLinear projection kinds of a checkpoint: none for a float row; for a
 * BitLinear row, every kind but those `modules_to_not_convert` exempts in
 * every layer. An exemption of some layers only is an {@link UnsupportedError}
 * (one list per kind is all a GGUF records), as is any exemption on a row
 * whose architecture implies BitLinear everywhere.
 *
 * @example
 * ```ts
 * import { architectureOf } from "./registry.ts";
 * bitlinearFromConfig({}, architectureOf("llama"), 2, "config.json"); // []
 * ```
 */
export function bitlinearFromConfig(
  config: Record<string, unknown>,
  arch: ArchSpec,
  nLayer: number,
  source: string,
): ProjectionKind[] {
  if (!arch.ternaryProjections) return [];
  const q = config.quantization_config as Record<string, unknown> | undefined | null;
  const raw = q?.modules_to_not_convert ?? [];
  if (!Array.isArray(raw) || raw.some((k) => typeof k !== "string")) {
    throw new FormatError(
      `${source}: quantization_config.modules_to_not_convert must be a list of module names, got ${
        JSON.stringify(raw)
      }`,
    );
  }
  const keys = raw as string[];
  const kept: ProjectionKind[] = [];
  for (const kind of PROJECTION_KINDS) {
    const rule = arch.tensors.find((r) => r.projection === kind)!;
    const module = rule.hf[0]!.replace(/\.weight$/, "");
    let exempt = 0;
    for (let l = 0; l < nLayer; l++) {
      const name = module.replace("{N}", String(l));
      if (keys.some((k) => exempts(k, name))) exempt++;
    }
    if (exempt === 0) kept.push(kind);
    else if (exempt < nLayer || !arch.bitlinearKey) {
      throw new UnsupportedError(
        `${source}: quantization_config.modules_to_not_convert ${JSON.stringify(keys)} exempts ${
          module.replace("{N}.", "*.")
        } in ${exempt} of ${nLayer} layers; only a projection exempt in every layer of a Llama checkpoint can be written`,
      );
    }
  }
  return kept;
}

/**
 * The BitLinear projection kinds of a GGUF file: all for a BitNet
 * architecture; for "llama", the kinds {@link BITLINEAR_KEY} lists (none
 * without it). A malformed list is a {@link FormatError}.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const g = await openGguf("models/clean/clean-f16.gguf");
 * bitlinearFromGguf(g, true); // every kind: BitNet implies them
 * ```
 */
export function bitlinearFromGguf(g: GgufFile, impliedByArch: boolean): ProjectionKind[] {
  if (impliedByArch) return [...PROJECTION_KINDS];
  if (!g.kv(BITLINEAR_KEY)) return [];
  const values = g.getArray(BITLINEAR_KEY);
  const bad = values.filter((v) => !(PROJECTION_KINDS as readonly unknown[]).includes(v));
  if (bad.length > 0 || new Set(values).size !== values.length) {
    throw new FormatError(
      `${g.path}: ${BITLINEAR_KEY} must list distinct projection kinds (${
        PROJECTION_KINDS.join(", ")
      }), got ${JSON.stringify(values)}`,
    );
  }
  return PROJECTION_KINDS.filter((k) => values.includes(k));
}
