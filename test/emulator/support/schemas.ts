import { readFileSync } from 'node:fs';
import ajvModule, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';

// Both packages are CommonJS that also export themselves as `default`; that works under tsc and vitest alike.
const Ajv2020 = ajvModule.default;
const addFormats = formatsModule.default;
type AjvInstance = InstanceType<typeof Ajv2020>;

/**
 * Validates emulator output against the official OpenAPI component schemas kept in
 * test/fixtures/openai-openapi-subset.json (see scripts/extract-openapi-subset.ts).
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SUBSET_URL = new URL('../../fixtures/openai-openapi-subset.json', import.meta.url);
const DOC_ID = 'https://threadline.local/openai-openapi-subset.json';

/**
 * The document is OpenAPI 3.1 but some Assistants schemas still carry the 3.0 `nullable`
 * keyword next to `$ref`/`allOf` without a `type`, which Ajv refuses to compile. Rewriting
 * those to `anyOf [schema, null]` is the 3.0 → 3.1 meaning of `nullable`; nothing else changes.
 */
function normalizeNullable(node: Json): Json {
  if (Array.isArray(node)) return node.map(normalizeNullable);
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) out[key] = normalizeNullable(value);
  if (out.nullable === true && out.type === undefined) {
    const { nullable: _dropped, ...rest } = out;
    return { anyOf: [rest, { type: 'null' }] };
  }
  return out;
}

let ajv: AjvInstance | undefined;
const compiled = new Map<string, ValidateFunction>();

function instance(): AjvInstance {
  if (ajv) return ajv;
  const doc = JSON.parse(readFileSync(SUBSET_URL, 'utf8')) as { components: Json };
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  // OpenAPI's `unixtime` format: seconds since the epoch.
  ajv.addFormat('unixtime', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 });
  ajv.addSchema({ $id: DOC_ID, components: normalizeNullable(doc.components) });
  return ajv;
}

export function validatorFor(schemaName: string): ValidateFunction {
  const cached = compiled.get(schemaName);
  if (cached) return cached;
  const found = instance().getSchema(`${DOC_ID}#/components/schemas/${schemaName}`);
  if (!found)
    throw new Error(
      `Schema ${schemaName} is not in the OpenAPI subset; add it to scripts/extract-openapi-subset.ts`,
    );
  compiled.set(schemaName, found);
  return found;
}

/** Most specific errors first: oneOf/anyOf wrappers only say "no branch matched". */
function describe(schemaName: string, errors: ErrorObject[]): string {
  const absolute = (schemaPath: string) =>
    schemaPath.startsWith('#/components/')
      ? schemaPath
      : `#/components/schemas/${schemaName}${schemaPath.slice(1)}`;
  const specific = errors.filter((e) => !['oneOf', 'anyOf', 'if'].includes(e.keyword));
  return (specific.length > 0 ? specific : errors)
    .slice(0, 12)
    .map(
      (e) =>
        `  data${e.instancePath || ''} ${e.message ?? ''} (schema ${absolute(e.schemaPath)}) ${JSON.stringify(e.params)}`,
    )
    .join('\n');
}

/** Throws with the schema paths of the failures; returns nothing on success. */
export function assertMatchesSchema(schemaName: string, data: unknown): void {
  const validate = validatorFor(schemaName);
  if (!validate(data)) {
    throw new Error(
      `Emulator output does not match official schema ${schemaName}:\n${describe(schemaName, validate.errors ?? [])}`,
    );
  }
}
