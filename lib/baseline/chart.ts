/**
 * The baseline chart: the RMS of every norm tensor as a bar, grouped by
 * layer, one colour per norm class (output_norm in its own group at the
 * end). The scale turns logarithmic when the RMS values span more than
 * {@link LOG_SCALE_RATIO}× (BitNet b1.58 2B-4T's attn_norm gammas are ~0.02
 * next to sub-norms near 1), so that no class is flattened to nothing.
 *
 * Every bar is a `<rect class="bar">` carrying `data-tensor`, `data-layer`,
 * `data-norm-class` and `data-rms`, with a `<title>` tooltip.
 *
 * The SVG is written by the small writer below (elements as plain objects,
 * serialized with every attribute and text escaped), so that a chart is
 * well-formed XML whatever the tensor names contain. No browser, no DOM.
 *
 * @example
 * ```ts
 * import { normRmsChart } from "./chart.ts";
 * import type { Baseline } from "./types.ts";
 * declare const baseline: Baseline;
 * const svg = normRmsChart(baseline.norms, { title: "clean-f16.gguf" });
 * await Deno.writeTextFile("chart.svg", svg);
 * ```
 * @module
 */

import type { NormClass } from "../arch/registry.ts";
import { NORM_CLASSES } from "../validate/rules.ts";
import type { BaselineNorm } from "./types.ts";

/** What the chart needs of a norm. */
export type ChartNorm = Pick<BaselineNorm, "name" | "normClass" | "layer" | "rms">;

/** Above this max/min ratio of the RMS values the scale is log10. */
const LOG_SCALE_RATIO = 50;

/** Class colours (colour-blind-safe Tableau 10); classes go in NORM_CLASSES' order. */
const NORM_CLASS_COLOR: Readonly<Record<NormClass, string>> = {
  attn_norm: "#4e79a7",
  attn_sub_norm: "#f28e2b",
  ffn_norm: "#59a14f",
  ffn_sub_norm: "#e15759",
  output_norm: "#76b7b2",
};

const BAR = 10;
const GROUP_GAP = 12;
const PLOT_H = 240;
const LEFT = 64;
const TOP = 56;
const BOTTOM = 40;
const RIGHT = 16;
const LEGEND_W = 110;
const BASE_Y = TOP + PLOT_H;
const HEIGHT = TOP + PLOT_H + BOTTOM;

function niceStep(range: number): number {
  const raw = range / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** A value → height (pixels) mapping with its ticks, logarithmic when the values span a wide range. */
function makeScale(values: readonly number[]) {
  const positive = values.filter((v) => v > 0);
  const max = positive.length ? Math.max(...positive) : 1;
  const min = positive.length ? Math.min(...positive) : 1;
  if (max / min > LOG_SCALE_RATIO) {
    const lo = Math.floor(Math.log10(min)), hi = Math.ceil(Math.log10(max));
    const ticks: number[] = [];
    for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
    return {
      log: true,
      height: (v: number) => (v > 0 ? ((Math.log10(v) - lo) / (hi - lo)) * PLOT_H : 0),
      ticks,
    };
  }
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= top + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { log: false, height: (v: number) => (v > 0 ? (v / top) * PLOT_H : 0), ticks };
}

const label = (v: number) =>
  v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4)
    ? v.toExponential(0)
    : String(Number(v.toPrecision(4)));

/** Where everything goes: groups of bars per layer, then the global norms ("out"). */
function layoutOf(norms: readonly ChartNorm[], title: string | undefined) {
  const inLayers = norms.filter((n) => n.layer !== null);
  const byOrder = (a: NormClass, b: NormClass) => NORM_CLASSES.indexOf(a) - NORM_CLASSES.indexOf(b);
  const classes = [...new Set(inLayers.map((n) => n.normClass))].sort(byOrder);
  const layers = [...new Set(inLayers.map((n) => n.layer!))].sort((a, b) => a - b);
  const globals = norms.filter((n) => n.layer === null);
  globals.sort((a, b) => byOrder(a.normClass, b.normClass));
  const scale = makeScale(
    norms.flatMap((n) => (n.rms !== null && Number.isFinite(n.rms) ? [n.rms] : [])),
  );
  const groupW = Math.max(classes.length, 1) * BAR + GROUP_GAP;
  const plotW = layers.length * groupW + (globals.length ? globals.length * BAR + GROUP_GAP : 0);
  const legendClasses = [...new Set([...classes, ...globals.map((n) => n.normClass)])];
  const heading = `Norm RMS per layer and norm class${scale.log ? " (log scale)" : ""}${
    title ? ` — ${title}` : ""
  }`;
  // Wide enough for the plot, the legend and the title (about 7 px per character at 13 px).
  const width = LEFT + Math.max(plotW, legendClasses.length * LEGEND_W, heading.length * 7) + RIGHT;
  return { classes, layers, globals, scale, groupW, plotW, legendClasses, heading, width };
}

type Layout = ReturnType<typeof layoutOf>;

function bar(l: Layout, n: ChartNorm, x: number): SvgElement {
  const ok = n.rms !== null && Number.isFinite(n.rms);
  const h = ok ? l.scale.height(n.rms!) : 0;
  return el(
    "rect",
    {
      class: ok ? "bar" : "bar missing",
      x,
      y: BASE_Y - h,
      width: BAR - 1,
      height: h,
      fill: NORM_CLASS_COLOR[n.normClass],
      "data-tensor": n.name,
      "data-layer": n.layer === null ? "output" : String(n.layer),
      "data-norm-class": n.normClass,
      "data-rms": ok ? String(n.rms) : "none",
    },
    el("title", {}, `${n.name}: RMS ${ok ? Number(n.rms!.toPrecision(6)) : "not available"}`),
  );
}

/** The bars, and the labels under each group. */
function barsOf(l: Layout, norms: readonly ChartNorm[]) {
  const bars: SvgElement[] = [], labels: SvgElement[] = [];
  const label = (x: number, text: string) =>
    labels.push(el("text", { x, y: BASE_Y + 14, "text-anchor": "middle" }, text));
  l.layers.forEach((layer, i) => {
    const x0 = LEFT + i * l.groupW + GROUP_GAP / 2;
    for (const n of norms.filter((n) => n.layer === layer)) {
      bars.push(bar(l, n, x0 + l.classes.indexOf(n.normClass) * BAR));
    }
    label(x0 + (l.groupW - GROUP_GAP) / 2, String(layer));
  });
  if (l.globals.length) {
    const x0 = LEFT + l.layers.length * l.groupW + GROUP_GAP / 2;
    l.globals.forEach((n, j) => bars.push(bar(l, n, x0 + j * BAR)));
    label(x0 + (l.globals.length * BAR) / 2, "out");
  }
  return { bars, labels };
}

/** The y-axis ticks with their grid lines, and the legend of norm classes. */
function axisAndLegend(l: Layout) {
  const yAxis = l.scale.ticks.map((t) => {
    const y = BASE_Y - l.scale.height(t);
    const line = el("line", { x1: LEFT - 4, y1: y, x2: LEFT + l.plotW, y2: y, stroke: "#ddd" });
    const text = el("text", { x: LEFT - 6, y: y + 4, "text-anchor": "end" }, label(t));
    return el("g", { class: "tick" }, line, text);
  });
  const legend = l.legendClasses.map((c, i) => {
    const x = LEFT + i * LEGEND_W, fill = NORM_CLASS_COLOR[c];
    const swatch = el("rect", { x, y: 28, width: 10, height: 10, fill });
    return el("g", { class: "legend" }, swatch, el("text", { x: x + 14, y: 37 }, c));
  });
  return { yAxis, legend };
}

/**
 * The chart as an SVG document (one bar per norm tensor).
 *
 * @example
 * ```ts
 * normRmsChart([{ name: "blk.0.attn_norm.weight", normClass: "attn_norm", layer: 0, rms: 1 }]);
 * ```
 */
export function normRmsChart(
  norms: readonly ChartNorm[],
  options: { readonly title?: string } = {},
): string {
  const l = layoutOf(norms, options.title);
  const { bars, labels } = barsOf(l, norms);
  const { yAxis, legend } = axisAndLegend(l);
  const { width, plotW, heading } = l;
  const mid = TOP + PLOT_H / 2;
  return renderSvg(
    el(
      "svg",
      {
        width,
        height: HEIGHT,
        viewBox: `0 0 ${Math.round(width)} ${Math.round(HEIGHT)}`,
        "font-family": "sans-serif",
        "font-size": 11,
        role: "img",
        "aria-label": heading,
      },
      el("title", {}, heading),
      el("rect", { x: 0, y: 0, width, height: HEIGHT, fill: "white" }),
      el("text", { x: LEFT, y: 16, "font-size": 13, "font-weight": "bold" }, heading),
      ...legend,
      el("g", { class: "y-axis" }, ...yAxis),
      el("g", { class: "bars" }, ...bars),
      el("line", { x1: LEFT, y1: BASE_Y, x2: LEFT + plotW, y2: BASE_Y, stroke: "#333" }),
      el("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: BASE_Y, stroke: "#333" }),
      el("g", { class: "x-labels" }, ...labels),
      el("text", { x: LEFT + plotW / 2, y: HEIGHT - 6, "text-anchor": "middle" }, "layer"),
      el(
        "text",
        { x: 14, y: mid, transform: `rotate(-90 14 ${mid})`, "text-anchor": "middle" },
        "RMS",
      ),
    ),
  );
}

// ---- the SVG writer ----------------------------------------------------------

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

/** Text for XML content and double-quoted attributes, escaped. */
function escapeXml(text: string): string {
  return text.replace(FORBIDDEN, "").replace(/&/g, "&amp;").replace(/</g, "&lt;")
    .replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A number as an attribute value: at most 2 decimals, no exponent, no "-0". */
function svgNumber(x: number): string {
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
