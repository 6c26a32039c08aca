/**
 * SafeTensors header for synthetic checkpoints written tensor by tensor by the
 * benchmarks (data is streamed after the header, in the same order).
 *
 * @example
 * ```ts
 * import { buildSafetensorsHeader } from "./synthetic_checkpoint.ts";
 * const { header, sizes } = buildSafetensorsHeader([{ name: "w", dtype: "BF16", shape: [2, 2] }]);
 * ```
 * @module
 */

const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, U8: 1, I8: 1 };

/** The 8-byte length prefix + JSON header, and each tensor's byte size. */
export function buildSafetensorsHeader(
  tensors: { name: string; dtype: string; shape: number[] }[],
): { header: Uint8Array; sizes: number[] } {
  const entries: Record<string, unknown> = {};
  const sizes: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype]!;
    entries[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    sizes.push(size);
    offset += size;
  }
  let json = JSON.stringify(entries);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const text = new TextEncoder().encode(json);
  const header = new Uint8Array(8 + text.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(text.length), true);
  header.set(text, 8);
  return { header, sizes };
}
