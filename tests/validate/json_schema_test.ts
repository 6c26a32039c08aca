import assert from "node:assert/strict";
import { checkJsonSchema } from "../_json_schema.ts";

Deno.test("checkJsonSchema: types, required, additionalProperties, items", () => {
  const schema = {
    type: "object",
    required: ["a", "b"],
    additionalProperties: false,
    properties: {
      a: { type: "integer", minimum: 0 },
      b: { type: "array", items: { type: ["string", "null"] } },
    },
  };
  assert.deepEqual(checkJsonSchema({ a: 1, b: ["x", null] }, schema), []);
  assert.deepEqual(checkJsonSchema({ a: 1.5, b: [] }, schema), [
    "$.a: expected integer, got number",
  ]);
  assert.deepEqual(checkJsonSchema({ a: -1, b: [3] }, schema), [
    "$.a: -1 < minimum 0",
    "$.b[0]: expected string or null, got number",
  ]);
  assert.deepEqual(checkJsonSchema({ b: [], c: 1 }, schema), [
    '$: missing property "a"',
    '$: unexpected property "c"',
  ]);
});

Deno.test("checkJsonSchema: enum, const, anyOf, $ref, additionalProperties schema", () => {
  const schema = {
    $defs: { pos: { type: "number", minimum: 0, maximum: 1 } },
    type: "object",
    properties: {
      kind: { enum: ["x", "y", null] },
      id: { const: "v1" },
      p: { $ref: "#/$defs/pos" },
      maybe: { anyOf: [{ type: "null" }, { $ref: "#/$defs/pos" }] },
      map: { type: "object", additionalProperties: { type: "string" } },
    },
  };
  assert.deepEqual(
    checkJsonSchema({ kind: null, id: "v1", p: 0.5, maybe: null, map: { k: "v" } }, schema),
    [],
  );
  const errors = checkJsonSchema({ kind: "z", id: "v2", p: 2, maybe: 3, map: { k: 1 } }, schema);
  assert.equal(errors.length, 5);
  assert.match(errors[0]!, /\$\.kind: "z" is not one of/);
  assert.match(errors[1]!, /\$\.id: expected "v1"/);
  assert.match(errors[2]!, /\$\.p: 2 > maximum 1/);
  assert.match(errors[3]!, /\$\.maybe: matches none of anyOf/);
  assert.match(errors[4]!, /\$\.map\.k: expected string/);
});

Deno.test("checkJsonSchema: unsupported keywords and bad refs are reported, not ignored", () => {
  assert.deepEqual(checkJsonSchema("x", { type: "string", pattern: "^y" }), [
    '$: schema keyword "pattern" is not supported by this checker',
  ]);
  assert.deepEqual(checkJsonSchema(1, { $ref: "#/$defs/none" }), [
    "$: unresolvable $ref #/$defs/none",
  ]);
});

Deno.test("the report schema uses only the supported subset", async () => {
  const schema = JSON.parse(await Deno.readTextFile("docs/reference/validate-report.schema.json"));
  // Walk every subschema: an unsupported keyword anywhere would be reported on a matching value,
  // so check the keyword set directly.
  const supported = new Set([
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
  const walk = (s: unknown, path: string, inMap: boolean): void => {
    if (typeof s !== "object" || s === null || Array.isArray(s)) return;
    for (const [k, v] of Object.entries(s)) {
      if (inMap) {
        walk(v, `${path}.${k}`, false);
        continue;
      }
      assert.ok(supported.has(k), `${path}: ${k}`);
      if (k === "properties" || k === "$defs") walk(v, `${path}.${k}`, true);
      else if (k === "items" || k === "additionalProperties") walk(v, `${path}.${k}`, false);
      else if (k === "anyOf") {
        (v as unknown[]).forEach((x, i) => walk(x, `${path}.anyOf[${i}]`, false));
      }
    }
  };
  walk(schema, "$", false);
});
