/**
 * The test helper that judges the chart must itself tell well-formed XML
 * from broken XML (cases from the XML 1.0 well-formedness constraints).
 */

import assert from "node:assert/strict";
import { elements, parseXml, textOf } from "./_xml.ts";

Deno.test("xml checker: accepts well-formed documents and decodes references", () => {
  const root = parseXml(
    '<?xml version="1.0" encoding="UTF-8"?>\n<!-- c -->\n<svg a="1" b=\'x &amp; &lt;y&gt;\'>' +
      "<g><rect/><text>a &#65;&#x42; &quot;q&quot; &apos;</text></g><![CDATA[<raw>]]></svg>\n",
  );
  assert.equal(root.name, "svg");
  assert.equal(root.attrs.get("b"), "x & <y>");
  assert.equal(elements(root, "rect").length, 1);
  assert.equal(textOf(elements(root, "text")[0]!), 'a AB "q" \'');
  assert.ok(root.children.includes("<raw>"));
});

Deno.test("xml checker: rejects each kind of malformed document", () => {
  const bad: [string, RegExp][] = [
    ["<a><b></a></b>", /closes/],
    ["<a>&</a>", /reference|entity/],
    ["<a>&nbsp;</a>", /unknown entity/],
    ['<a x="1" x="2"/>', /duplicate attribute/],
    ["<a/><b/>", /after the root/],
    ["<a x=1/>", /quoted/],
    ['<a x="<"/>', /'<' in an attribute/],
    ["<a>\u0001</a>", /not allowed/],
    ["<a>", /never closed/],
    ["<a><!-- x -- y --></a>", /'--' inside/],
    ['<a x="1"y="2"/>', /separated/],
    [' <?xml version="1.0"?><a/>', /declaration not at the start/],
    ["<a>]]></a>", /']]>'/],
    ["text", /root element/],
    ["<1a/>", /name/],
  ];
  for (const [doc, why] of bad) {
    assert.throws(() => parseXml(doc), why, `should reject ${JSON.stringify(doc)}`);
  }
});
