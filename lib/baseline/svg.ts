/**
 * A minimal SVG writer: elements as plain objects, serialized with every
 * attribute and text escaped, so that a chart is well-formed XML whatever
 * the tensor names contain. No browser, no DOM.
 *
 * @example
 * ```ts
 * import { el, renderSvg } from "./svg.ts";
 * renderSvg(el("svg", { width: 10, height: 10 }, el("rect", { x: 0, y: 0, width: 5, height: 5 })));
 * // '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" …'
 * ```
 * @module
 */

/** Attribute values; undefined attributes are left out. */
export type SvgAttrs = Readonly<Record<string, string | number | undefined>>;

/** One element. */
export interface SvgElement {
  readonly name: string;
  readonly attrs: SvgAttrs;
  readonly children: readonly (SvgElement | string)[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

/**
 * An element. Names are checked (a bad one is a bug in the caller).
 *
 * @example
 * ```ts
 * el("text", { x: 4, y: 12 }, "layer 0");
 * ```
 */
export function el(
  name: string,
  attrs: SvgAttrs = {},
  ...children: (SvgElement | string)[]
): SvgElement {
  if (!NAME.test(name)) throw new Error(`svg: invalid element name ${JSON.stringify(name)}`);
  for (const k of Object.keys(attrs)) {
    if (!NAME.test(k)) throw new Error(`svg: invalid attribute name ${JSON.stringify(k)}`);
  }
  return { name, attrs, children };
}

// XML 1.0 forbids these code points even when escaped.
// deno-lint-ignore no-control-regex
const FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/g;

/**
 * Escapes text for XML content and double-quoted attributes.
 *
 * @example
 * ```ts
 * escapeXml(`a<b & "c"`); // "a&lt;b &amp; &quot;c&quot;"
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(FORBIDDEN, "").replace(/&/g, "&amp;").replace(/</g, "&lt;")
    .replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * A number as an attribute value: at most 2 decimals, no exponent, no "-0".
 *
 * @example
 * ```ts
 * svgNumber(1 / 3); // "0.33"
 * ```
 */
export function svgNumber(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`svg: non-finite coordinate ${x}`);
  const r = Math.round(x * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

function serialize(e: SvgElement, indent: string, out: string[]): void {
  const attrs = Object.entries(e.attrs)
    .filter((kv): kv is [string, string | number] => kv[1] !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === "number" ? svgNumber(v) : escapeXml(v)}"`)
    .join("");
  if (e.children.length === 0) {
    out.push(`${indent}<${e.name}${attrs}/>`);
  } else if (e.children.every((c) => typeof c === "string")) {
    out.push(
      `${indent}<${e.name}${attrs}>${
        e.children.map((c) => escapeXml(c as string)).join("")
      }</${e.name}>`,
    );
  } else {
    out.push(`${indent}<${e.name}${attrs}>`);
    for (const c of e.children) {
      if (typeof c === "string") out.push(`${indent}  ${escapeXml(c)}`);
      else serialize(c, indent + "  ", out);
    }
    out.push(`${indent}</${e.name}>`);
  }
}

/**
 * A standalone SVG document: XML declaration, the root with the SVG
 * namespace added, one element per line.
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("chart.svg", renderSvg(el("svg", { width: 100, height: 50 })));
 * ```
 */
export function renderSvg(root: SvgElement): string {
  if (root.name !== "svg") throw new Error(`svg: the root must be <svg>, got <${root.name}>`);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  serialize(
    el("svg", { xmlns: "http://www.w3.org/2000/svg", ...root.attrs }, ...root.children),
    "",
    out,
  );
  return out.join("\n") + "\n";
}
