/**
 * A tiny XML 1.0 well-formedness checker for tests (no DTDs, no namespaces
 * resolution): it parses a document into a tree or throws with the offset of
 * the first violation. Written independently of the SVG writer in
 * lib/baseline/chart.ts, so that a chart is judged by rules the writer did
 * not choose.
 *
 * @example
 * ```ts
 * import { parseXml, elements } from "./_xml.ts";
 * const root = parseXml('<svg><rect class="bar"/></svg>');
 * elements(root, "rect").length; // 1
 * ```
 * @module
 */

/** One element. */
export interface XmlElement {
  readonly name: string;
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: readonly (XmlElement | string)[];
}

const NAME_START =
  /[A-Za-z_:\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD]/;
const NAME_CHAR = /[-.0-9\u00B7\u0300-\u036F\u203F-\u2040]/;
const PREDEFINED: Readonly<Record<string, string>> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(what: string): never {
    const line = this.text.slice(0, this.pos).split("\n").length;
    throw new Error(`not well-formed XML at offset ${this.pos} (line ${line}): ${what}`);
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  expect(s: string): void {
    if (!this.startsWith(s)) this.fail(`expected ${JSON.stringify(s)}`);
    this.pos += s.length;
  }

  skipSpace(): number {
    const start = this.pos;
    while (this.pos < this.text.length && " \t\r\n".includes(this.text[this.pos]!)) this.pos++;
    return this.pos - start;
  }

  name(): string {
    const start = this.pos;
    const c = this.text[this.pos];
    if (c === undefined || !NAME_START.test(c)) this.fail("expected a name");
    this.pos++;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos]!;
      if (NAME_START.test(ch) || NAME_CHAR.test(ch)) this.pos++;
      else break;
    }
    return this.text.slice(start, this.pos);
  }

  /** Text up to `stop` (exclusive), with references decoded. */
  chars(stop: (c: string) => boolean, inAttr: boolean): string {
    let out = "";
    while (this.pos < this.text.length && !stop(this.text[this.pos]!)) {
      const c = this.text[this.pos]!;
      if (c === "<") this.fail(inAttr ? "'<' in an attribute value" : "unexpected '<'");
      if (c === "&") {
        out += this.reference();
        continue;
      }
      if (!inAttr && this.startsWith("]]>")) this.fail("']]>' in text");
      const cp = this.text.codePointAt(this.pos)!;
      if (!isXmlChar(cp)) this.fail(`character U+${cp.toString(16)} is not allowed`);
      out += String.fromCodePoint(cp);
      this.pos += cp > 0xffff ? 2 : 1;
    }
    return out;
  }

  reference(): string {
    this.expect("&");
    const end = this.text.indexOf(";", this.pos);
    if (end === -1) this.fail("unterminated reference");
    const body = this.text.slice(this.pos, end);
    let value: string;
    if (/^#[0-9]+$/.test(body) || /^#x[0-9a-fA-F]+$/.test(body)) {
      const cp = body[1] === "x" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      if (!isXmlChar(cp)) this.fail(`&${body}; is not an XML character`);
      value = String.fromCodePoint(cp);
    } else if (PREDEFINED[body] !== undefined) {
      value = PREDEFINED[body]!;
    } else {
      return this.fail(`unknown entity &${body};`);
    }
    this.pos = end + 1;
    return value;
  }

  comment(): void {
    this.expect("<!--");
    const end = this.text.indexOf("-->", this.pos);
    if (end === -1) this.fail("unterminated comment");
    if (this.text.slice(this.pos, end).includes("--")) this.fail("'--' inside a comment");
    this.pos = end + 3;
  }

  pi(): void {
    this.expect("<?");
    const target = this.name();
    if (target.toLowerCase() === "xml" && this.pos !== 5) {
      this.fail("XML declaration not at the start");
    }
    const end = this.text.indexOf("?>", this.pos);
    if (end === -1) this.fail("unterminated processing instruction");
    this.pos = end + 2;
  }

  /** Comments, PIs and white space between markup outside the root. */
  misc(): void {
    for (;;) {
      this.skipSpace();
      if (this.startsWith("<!--")) this.comment();
      else if (this.startsWith("<?")) this.pi();
      else return;
    }
  }

  element(): XmlElement {
    this.expect("<");
    const name = this.name();
    const attrs = new Map<string, string>();
    for (;;) {
      const spaced = this.skipSpace() > 0;
      if (this.startsWith("/>")) {
        this.pos += 2;
        return { name, attrs, children: [] };
      }
      if (this.startsWith(">")) {
        this.pos++;
        break;
      }
      if (!spaced) this.fail("attributes must be separated by white space");
      const attr = this.name();
      if (attrs.has(attr)) this.fail(`duplicate attribute ${attr}`);
      this.skipSpace();
      this.expect("=");
      this.skipSpace();
      const q = this.text[this.pos];
      if (q !== '"' && q !== "'") this.fail("attribute value must be quoted");
      this.pos++;
      const value = this.chars((c) => c === q, true);
      this.expect(q);
      attrs.set(attr, value);
    }
    const children: (XmlElement | string)[] = [];
    for (;;) {
      if (this.pos >= this.text.length) this.fail(`<${name}> is never closed`);
      if (this.startsWith("</")) {
        this.pos += 2;
        const closing = this.name();
        if (closing !== name) this.fail(`</${closing}> closes <${name}>`);
        this.skipSpace();
        this.expect(">");
        return { name, attrs, children };
      }
      if (this.startsWith("<!--")) this.comment();
      else if (this.startsWith("<![CDATA[")) {
        const end = this.text.indexOf("]]>", this.pos);
        if (end === -1) this.fail("unterminated CDATA section");
        children.push(this.text.slice(this.pos + 9, end));
        this.pos = end + 3;
      } else if (this.startsWith("<?")) this.pi();
      else if (this.startsWith("<")) children.push(this.element());
      else children.push(this.chars((c) => c === "<", false));
    }
  }
}

/**
 * Parses a whole document: optional declaration, exactly one root element,
 * nothing but comments, PIs and white space around it.
 *
 * @example
 * ```ts
 * parseXml("<a>&amp;</a>").children; // ["&"]
 * ```
 */
export function parseXml(text: string): XmlElement {
  const p = new Parser(text.startsWith("\uFEFF") ? text.slice(1) : text);
  p.misc();
  if (p.startsWith("<!DOCTYPE")) p.fail("DOCTYPE is not supported by this checker");
  if (!p.startsWith("<")) p.fail("expected the root element");
  const root = p.element();
  p.misc();
  if (p.pos !== p.text.length) p.fail("content after the root element");
  return root;
}

/**
 * Every element named `name` below (and including) `root`, in document order.
 *
 * @example
 * ```ts
 * elements(parseXml("<a><b/><c><b/></c></a>"), "b").length; // 2
 * ```
 */
export function elements(root: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    if (e.name === name) out.push(e);
    for (const c of e.children) if (typeof c !== "string") walk(c);
  };
  walk(root);
  return out;
}

/**
 * The text content of an element (its descendants' text, concatenated).
 *
 * @example
 * ```ts
 * textOf(parseXml("<a>x<b>y</b></a>")); // "xy"
 * ```
 */
export function textOf(e: XmlElement): string {
  return e.children.map((c) => (typeof c === "string" ? c : textOf(c))).join("");
}
