/**
 * A small JSON Schema checker for the subset the report schema
 * (docs/reference/validate-report.schema.json) uses: `type` (one or a list;
 * "integer" included), `properties`, `required`, `additionalProperties`
 * (boolean or schema), `items`, `enum`, `const`, `anyOf`, `minimum`,
 * `maximum`, `$ref` to `#/$defs/...`. Any other keyword is an error rather
 * than silently ignored, so the schema cannot drift beyond what is checked.
 *
 * @example
 * ```ts
 * import { checkJsonSchema } from "./_json_schema.ts";
 * checkJsonSchema({ a: 1 }, { type: "object", required: ["a", "b"] }); // ['$: missing property "b"']
 * ```
 * @module
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: unknown };

const KNOWN = new Set([
  "$schema",
  "$id",
  "$defs",
  "title",
  "description",
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "enum",
  "const",
  "anyOf",
  "minimum",
  "maximum",
  "$ref",
]);

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function matchesType(v: unknown, t: string): boolean {
  switch (t) {
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    default:
      return typeOf(v) === t;
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Checks `value` against `schema` (with `root` holding `$defs`); returns the
 * errors as "path: what" strings, empty when valid.
 *
 * @example
 * ```ts
 * checkJsonSchema([1, "x"], { type: "array", items: { type: "integer" } }); // ['$[1]: expected integer, got string']
 * ```
 */
export function checkJsonSchema(value: unknown, schema: Schema, root: Schema = schema): string[] {
  const errors: string[] = [];
  visit(value as Json, schema, root, "$", errors);
  return errors;
}

function visit(v: Json, s: Schema, root: Schema, path: string, errors: string[]): void {
  for (const k of Object.keys(s)) {
    if (!KNOWN.has(k)) {
      errors.push(`${path}: schema keyword "${k}" is not supported by this checker`);
    }
  }
  if (typeof s.$ref === "string") {
    const m = /^#\/\$defs\/(.+)$/.exec(s.$ref);
    const defs = root.$defs as Record<string, Schema> | undefined;
    const target = m ? defs?.[m[1]!] : undefined;
    if (!target) {
      errors.push(`${path}: unresolvable $ref ${s.$ref}`);
      return;
    }
    visit(v, target, root, path, errors);
  }
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type as string[] : [s.type as string];
    if (!types.some((t) => matchesType(v, t))) {
      errors.push(`${path}: expected ${types.join(" or ")}, got ${typeOf(v)}`);
      return;
    }
  }
  if (s.const !== undefined && !same(v, s.const)) {
    errors.push(`${path}: expected ${JSON.stringify(s.const)}, got ${JSON.stringify(v)}`);
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => same(e, v))) {
    errors.push(`${path}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`);
  }
  if (Array.isArray(s.anyOf)) {
    const ok = (s.anyOf as Schema[]).some((sub) => checkJsonSchema(v, sub, root).length === 0);
    if (!ok) {
      const why = (s.anyOf as Schema[]).map((sub) => checkJsonSchema(v, sub, root)[0] ?? "").join(
        "; ",
      );
      errors.push(`${path}: matches none of anyOf (${why})`);
    }
  }
  if (typeof v === "number") {
    if (typeof s.minimum === "number" && v < s.minimum) {
      errors.push(`${path}: ${v} < minimum ${s.minimum}`);
    }
    if (typeof s.maximum === "number" && v > s.maximum) {
      errors.push(`${path}: ${v} > maximum ${s.maximum}`);
    }
  }
  if (Array.isArray(v) && s.items !== undefined) {
    v.forEach((item, i) => visit(item, s.items as Schema, root, `${path}[${i}]`, errors));
  }
  if (typeOf(v) === "object") {
    const obj = v as { [key: string]: Json };
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) {
      if (!(r in obj)) errors.push(`${path}: missing property "${r}"`);
    }
    for (const [k, val] of Object.entries(obj)) {
      const sub = props[k];
      if (sub) visit(val, sub, root, `${path}.${k}`, errors);
      else if (s.additionalProperties === false) errors.push(`${path}: unexpected property "${k}"`);
      else if (typeof s.additionalProperties === "object" && s.additionalProperties !== null) {
        visit(val, s.additionalProperties as Schema, root, `${path}.${k}`, errors);
      }
    }
  }
}
