/**
 * The norm RMS chart: well-formed SVG (parsed by the independent checker in
 * ./_xml.ts) with exactly one bar per layer per norm class, bar heights
 * proportional to RMS (or to log10 RMS on the log scale).
 */

import assert from "node:assert/strict";
import type { NormClass } from "../../lib/arch/registry.ts";
import { type ChartNorm, normRmsChart } from "../../lib/baseline/chart.ts";
import { elements, parseXml, textOf, type XmlElement } from "./_xml.ts";

const LAYER_CLASSES: NormClass[] = ["attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"];

function norms(layers: number, rms: (layer: number, c: number) => number | null): ChartNorm[] {
  const out: ChartNorm[] = [];
  for (let l = 0; l < layers; l++) {
    LAYER_CLASSES.forEach((normClass, c) => {
      out.push({ name: `blk.${l}.${normClass}.weight`, normClass, layer: l, rms: rms(l, c) });
    });
  }
  out.push({ name: "output_norm.weight", normClass: "output_norm", layer: null, rms: rms(-1, 4) });
  return out;
}

const bars = (svg: string): XmlElement[] =>
  elements(parseXml(svg), "rect").filter((r) => r.attrs.get("class")?.split(" ").includes("bar"));

Deno.test("chart: one bar per layer per norm class, plus output_norm, in well-formed SVG", () => {
  const input = norms(4, (l, c) => 1 + 0.01 * l + 0.1 * c);
  const svg = normRmsChart(input, { title: `a <b> & "c"` });
  const root = parseXml(svg);
  assert.equal(root.name, "svg");
  const bs = bars(svg);
  assert.equal(bs.length, 4 * 4 + 1);
  const seen = new Set(
    bs.map((b) => `${b.attrs.get("data-layer")}/${b.attrs.get("data-norm-class")}`),
  );
  for (let l = 0; l < 4; l++) {
    for (const c of LAYER_CLASSES) assert.ok(seen.has(`${l}/${c}`), `${l}/${c}`);
  }
  assert.ok(seen.has("output/output_norm"));
  assert.equal(seen.size, 17);
  for (const b of bs) {
    const t = elements(b, "title")[0]!;
    assert.match(
      textOf(t),
      new RegExp(`^${b.attrs.get("data-tensor")!.replace(/\./g, "\\.")}: RMS `),
    );
  }
  assert.match(textOf(elements(root, "title")[0]!), /— a <b> & "c"$/);
  // The 2B-4T shape: 30 layers give 121 bars.
  assert.equal(bars(normRmsChart(norms(30, () => 1))).length, 121);
});

Deno.test("chart: linear scale, bar height / RMS is the same for every bar and bars stand on one baseline", () => {
  const input = norms(3, (l, c) => 0.5 + 0.25 * c + 0.05 * l);
  const bs = bars(normRmsChart(input));
  const ratios = bs.map((b) => Number(b.attrs.get("height")) / Number(b.attrs.get("data-rms")));
  for (const r of ratios) assert.ok(Math.abs(r - ratios[0]!) < 0.05, `${r} vs ${ratios[0]}`);
  const bottoms = bs.map((b) => Number(b.attrs.get("y")) + Number(b.attrs.get("height")));
  for (const y of bottoms) assert.ok(Math.abs(y - bottoms[0]!) < 0.02);
  // data-rms carries the exact value.
  const b = bs.find((x) => x.attrs.get("data-tensor") === "blk.2.ffn_norm.weight")!;
  assert.equal(Number(b.attrs.get("data-rms")), 0.5 + 0.25 * 2 + 0.05 * 2);
});

Deno.test("chart: RMS spanning more than 50x switches to a log scale (2B-4T attn_norm ~0.02 next to ~1)", () => {
  const input = norms(2, (_l, c) => (c === 0 ? 0.02 : c === 1 ? 1 : c === 2 ? 2 : 4));
  const svg = normRmsChart(input);
  assert.match(textOf(elements(parseXml(svg), "title")[0]!), /log scale/);
  const bs = bars(svg);
  const h = (name: string) =>
    Number(bs.find((b) => b.attrs.get("data-tensor") === name)!.attrs.get("height"));
  const h002 = h("blk.0.attn_norm.weight"), h1 = h("blk.0.attn_sub_norm.weight");
  const h2 = h("blk.0.ffn_norm.weight"), h4 = h("blk.0.ffn_sub_norm.weight");
  assert.ok(h002 > 0, "the small class is still visible");
  // Equal ratios give equal steps: log10(2) - log10(1) = log10(4) - log10(2).
  assert.ok(Math.abs((h2 - h1) - (h4 - h2)) < 0.02);
  // log10(1) - log10(0.02) = 1.699 steps of log10(2) = 0.301.
  assert.ok(Math.abs((h1 - h002) / (h2 - h1) - Math.log10(50) / Math.log10(2)) < 0.01);
});

Deno.test("chart: a norm without statistics still gets its bar, marked missing, zero high", () => {
  const input = norms(1, (_l, c) => (c === 1 ? null : 1));
  const bs = bars(normRmsChart(input));
  assert.equal(bs.length, 5);
  const missing = bs.filter((b) => b.attrs.get("class") === "bar missing");
  assert.equal(missing.length, 1);
  assert.equal(missing[0]!.attrs.get("data-tensor"), "blk.0.attn_sub_norm.weight");
  assert.equal(missing[0]!.attrs.get("height"), "0");
  assert.equal(missing[0]!.attrs.get("data-rms"), "none");
});
