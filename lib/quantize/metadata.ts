/**
 * Copies a GGUF's metadata into a {@link GgufWriter} unchanged — same keys,
 * same order, same value types — except `general.file_type`, which becomes
 * the quantized type's, and `general.quantization_version`, which is set to 2
 * (FORMATS.md §1). `general.alignment` is written by the writer itself, with
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

import { UnsupportedError } from "../errors.ts";
import type { GgufFile, GgufKv, GgufScalar } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";
import { GgufValueType } from "../gguf/types.ts";
import type { GgufWriter } from "../gguf/writer.ts";

/** ggml's GGML_QNT_VERSION: what `general.quantization_version` holds when any tensor is block-quantized. */
export const QUANTIZATION_VERSION = 2;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(GgufValueType).map(([name, id]) => [id, name]),
);

function unsupported(src: GgufFile, kv: GgufKv): never {
  const what = kv.type === GgufValueType.ARRAY
    ? `an array of ${TYPE_NAMES[kv.arrayType ?? -1] ?? kv.arrayType}`
    : TYPE_NAMES[kv.type] ?? String(kv.type);
  throw new UnsupportedError(
    `${src.path}: metadata key "${kv.key}" is ${what}, which GgufWriter has no helper to copy with its type`,
  );
}

/** Adds one entry with its original value type. */
function copyKv(w: GgufWriter, src: GgufFile, kv: GgufKv): void {
  const { key, value } = kv;
  switch (kv.type) {
    case GgufValueType.STRING:
      return w.addString(key, value as string);
    case GgufValueType.UINT8:
      return w.addU8(key, value as number);
    case GgufValueType.UINT32:
      return w.addU32(key, value as number);
    case GgufValueType.INT32:
      return w.addI32(key, value as number);
    case GgufValueType.UINT64:
      return w.addU64(key, value as bigint);
    case GgufValueType.FLOAT32:
      return w.addF32(key, value as number);
    case GgufValueType.FLOAT64:
      return w.addF64(key, value as number);
    case GgufValueType.BOOL:
      return w.addBool(key, value as boolean);
    case GgufValueType.ARRAY: {
      const values = value as GgufScalar[];
      switch (kv.arrayType) {
        case GgufValueType.STRING:
          return w.addStringArray(key, values as string[]);
        case GgufValueType.INT32:
          return w.addI32Array(key, values as number[]);
        case GgufValueType.UINT32:
          return w.addU32Array(key, values as number[]);
        case GgufValueType.FLOAT32:
          return w.addF32Array(key, values as number[]);
      }
      return unsupported(src, kv);
    }
  }
  return unsupported(src, kv);
}

/**
 * Copies every entry of `src` into `w` in file order (see the module
 * comment). When `src` has no `general.file_type`, it is added, with the
 * quantization version, before the first key outside `general.*`. An entry
 * whose value type the writer cannot produce is an {@link UnsupportedError}
 * naming the key (never silently dropped or retyped).
 *
 * @example
 * ```ts
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
    else copyKv(w, src, kv);
  }
  if (!typed) addFileType();
}
