/** The SVG writer: escaping, numbers, and well-formed output whatever the text. */

import assert from "node:assert/strict";
import { el, renderSvg } from "../../lib/baseline/chart.ts";
import { elements, parseXml, textOf } from "./_xml.ts";

/** Text as renderSvg escapes it in an element. */
const escapeXml = (text: string) =>
  /<t>(.*)<\/t>/s.exec(renderSvg(el("svg", {}, el("t", {}, text))))![1]!;
/** A number as renderSvg writes it in an attribute. */
const svgNumber = (x: number) => /<svg[^>]* x="([^"]*)"/.exec(renderSvg(el("svg", { x })))![1]!;

Deno.test("svg: escapeXml escapes markup characters and drops characters XML forbids", () => {
  assert.equal(escapeXml(`a<b & "c">`), "a&lt;b &amp; &quot;c&quot;&gt;");
  assert.equal(escapeXml("x\u0000y\u001bz\tw"), "xyz\tw");
});

Deno.test("svg: numbers have at most 2 decimals, never an exponent or -0", () => {
  assert.equal(svgNumber(1 / 3), "0.33");
  assert.equal(svgNumber(-0.001), "0");
  assert.equal(svgNumber(1e-9), "0");
  assert.equal(svgNumber(296), "296");
  assert.throws(() => svgNumber(NaN), /non-finite/);
});

Deno.test("svg: hostile text and attribute values still give well-formed XML that round-trips", () => {
  const hostile = `</text><script>alert("x")</script> & ' \u0007 ]]>`;
  const doc = renderSvg(
    el(
      "svg",
      { width: 10, height: 10 },
      el("text", { "data-x": hostile }, hostile),
      el("g", {}, el("rect", { x: 0.126 })),
    ),
  );
  const root = parseXml(doc);
  assert.equal(root.attrs.get("xmlns"), "http://www.w3.org/2000/svg");
  const text = elements(root, "text")[0]!;
  const expected = hostile.replace("\u0007", "");
  assert.equal(textOf(text), expected);
  assert.equal(text.attrs.get("data-x"), expected);
  assert.equal(elements(root, "script").length, 0);
  assert.equal(elements(root, "rect")[0]!.attrs.get("x"), "0.13");
});

Deno.test("svg: bad names and a root other than <svg> are refused", () => {
  assert.throws(() => el("a b"), /invalid element name/);
  assert.throws(() => el("g", { "on click": "x" }), /invalid attribute name/);
  assert.throws(() => renderSvg(el("g")), /root must be <svg>/);
});
