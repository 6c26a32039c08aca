/**
 * Copies a GGUF's metadata into a {@link GgufWriter} unchanged — same keys,
 * same order, same value types — except `general.file_type`, which becomes
 * the quantized type's, and `general.quantization_version`, which is set to 2
 * (docs/reference/formats.md, "GGUF layout"). `general.alignment` is written by the writer itself, with
 * the source's alignment.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { GgufWriter } from "../gguf/writer.ts";
 * import { copyMetadata } from "./metadata.ts";
 * const src = await openGguf("models/clean/clean-f16.gguf");
 * const w = new GgufWriter(src.alignment);
 * copyMetadata(w, src, 40); // MOSTLY_I2_S
 * ```
 * @module
 */

import type { GgufFile } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";
import type { GgufWriter } from "../gguf/writer.ts";

/** ggml's GGML_QNT_VERSION: what `general.quantization_version` holds when any tensor is block-quantized. */
export const QUANTIZATION_VERSION = 2;

/**
 * Copies every entry of `src` into `w` in file order (see the module
 * comment). When `src` has no `general.file_type`, it is added, with the
 * quantization version, before the first key outside `general.*`. Every
 * value type copies through with its type (the writer's generic `add`).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { GgufWriter } from "../gguf/writer.ts";
 * const src = await openGguf("models/clean/clean-f16.gguf");
 * copyMetadata(new GgufWriter(32), src, 37); // MOSTLY_TQ2_0
 * ```
 */
export function copyMetadata(w: GgufWriter, src: GgufFile, fileType: number): void {
  const G = Keys.general;
  const hasVersion = src.metadata.has(G.quantizationVersion);
  let typed = false;
  const addFileType = () => {
    w.addU32(G.fileType, fileType);
    if (!hasVersion) w.addU32(G.quantizationVersion, QUANTIZATION_VERSION);
    typed = true;
  };
  for (const kv of src.metadata.values()) {
    if (kv.key === G.alignment) continue;
    if (!typed && !src.metadata.has(G.fileType) && !kv.key.startsWith("general.")) addFileType();
    if (kv.key === G.fileType) addFileType();
    else if (kv.key === G.quantizationVersion) w.addU32(kv.key, QUANTIZATION_VERSION);
    else w.add(kv.key, kv.type, kv.value, kv.arrayType);
  }
  if (!typed) addFileType();
}
