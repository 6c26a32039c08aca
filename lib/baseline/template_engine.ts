/**
 * A small logic-less template language (a subset of Mustache) for the
 * baseline Markdown:
 *
 * - `{{name}}` inserts a value (strings and numbers only; an unknown name is an error, so a
 *   typo in a template fails loudly instead of printing nothing);
 * - `{{#name}}…{{/name}}` repeats its body for each element of an array, renders it once with
 *   an object (its fields come into scope) or with `true`, and skips it for `false`, `null`
 *   or an empty array;
 * - `{{^name}}…{{/name}}` renders its body only when `name` is `false`, `null` or empty.
 *
 * A section tag alone on its line takes the line with it, so that sections
 * do not leave blank lines in tables. Nothing is escaped: the caller
 * prepares Markdown-safe strings.
 *
 * @example
 * ```ts
 * import { renderTemplate } from "./template_engine.ts";
 * renderTemplate("{{#rows}}| {{a}} |\n{{/rows}}", { rows: [{ a: 1 }, { a: 2 }] }, "t");
 * // "| 1 |\n| 2 |\n"
 * ```
 * @module
 */

import { FormatError } from "../errors.ts";

/** What a template may be rendered with. */
export type TemplateValue =
  | string
  | number
  | boolean
  | null
  | readonly TemplateView[]
  | TemplateView;

/** A scope of named values. */
export interface TemplateView {
  readonly [name: string]: TemplateValue;
}

type Node =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "var"; readonly name: string; readonly at: number }
  | {
    readonly kind: "section";
    readonly inverted: boolean;
    readonly name: string;
    readonly at: number;
    readonly body: Node[];
  };

const TAG = /\{\{\s*([#^/]?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

function parse(template: string, source: string): Node[] {
  const root: Node[] = [];
  const stack: { name: string; at: number; body: Node[] }[] = [];
  let body = root;
  let pos = 0;
  for (const m of template.matchAll(TAG)) {
    const [whole, sigil, name] = m as unknown as [string, string, string];
    let start = m.index!;
    let end = start + whole.length;
    if (sigil) {
      // Standalone section tag: drop the whitespace around it and its newline.
      const lineStart = template.lastIndexOf("\n", start - 1) + 1;
      const nl = template.indexOf("\n", end);
      const lineEnd = nl === -1 ? template.length : nl + 1;
      if (
        lineStart >= pos && /^[ \t]*$/.test(template.slice(lineStart, start)) &&
        /^[ \t]*\r?\n?$/.test(template.slice(end, lineEnd))
      ) {
        start = lineStart;
        end = lineEnd;
      }
    }
    if (start > pos) body.push({ kind: "text", text: template.slice(pos, start) });
    pos = end;
    if (!sigil) {
      body.push({ kind: "var", name, at: m.index! });
    } else if (sigil === "/") {
      const open = stack.pop();
      if (!open || open.name !== name) {
        throw new FormatError(
          `${source}: line ${lineOf(template, m.index!)}: {{/${name}}} closes ${
            open ? `{{#${open.name}}}` : "nothing"
          }`,
        );
      }
      body = stack.length ? stack[stack.length - 1]!.body : root;
    } else {
      const section: Node = {
        kind: "section",
        inverted: sigil === "^",
        name,
        at: m.index!,
        body: [],
      };
      body.push(section);
      stack.push({ name, at: m.index!, body: section.body });
      body = section.body;
    }
  }
  const unclosed = stack.pop();
  if (unclosed) {
    throw new FormatError(
      `${source}: line ${lineOf(template, unclosed.at)}: {{#${unclosed.name}}} is never closed`,
    );
  }
  if (pos < template.length) body.push({ kind: "text", text: template.slice(pos) });
  return root;
}

function lookup(scopes: readonly TemplateView[], name: string): TemplateValue | undefined {
  for (let i = scopes.length - 1; i >= 0; i--) {
    const s = scopes[i]!;
    if (Object.hasOwn(s, name)) return s[name];
  }
  return undefined;
}

function render(
  nodes: readonly Node[],
  scopes: TemplateView[],
  template: string,
  source: string,
  out: string[],
): void {
  for (const n of nodes) {
    if (n.kind === "text") {
      out.push(n.text);
      continue;
    }
    const value = lookup(scopes, n.name);
    const where = `${source}: line ${lineOf(template, n.at)}`;
    if (value === undefined) throw new FormatError(`${where}: unknown placeholder {{${n.name}}}`);
    if (n.kind === "var") {
      if (typeof value !== "string" && typeof value !== "number") {
        throw new FormatError(`${where}: {{${n.name}}} is a list or section, not a value`);
      }
      out.push(String(value));
      continue;
    }
    const empty = value === false || value === null || (Array.isArray(value) && value.length === 0);
    if (n.inverted) {
      if (empty) render(n.body, scopes, template, source, out);
    } else if (Array.isArray(value)) {
      for (const item of value as readonly TemplateView[]) {
        render(n.body, [...scopes, item], template, source, out);
      }
    } else if (typeof value === "object" && value !== null) {
      render(n.body, [...scopes, value as TemplateView], template, source, out);
    } else if (!empty) {
      render(n.body, scopes, template, source, out);
    }
  }
}

/**
 * Renders `template` with `view`. Malformed templates and unknown names are a
 * FormatError naming `source` and the line.
 *
 * @example
 * ```ts
 * renderTemplate("{{^probe}}no probe{{/probe}}", { probe: null }, "t"); // "no probe"
 * ```
 */
export function renderTemplate(template: string, view: TemplateView, source: string): string {
  const out: string[] = [];
  render(parse(template, source), [view], template, source, out);
  return out.join("");
}
