import { ApiError } from './errors.js';

/**
 * The checks the live API runs on a function tool's `parameters` when `strict: true` (OpenAI's
 * Structured Outputs guide, "Supported schemas"): the root is an object schema and not `anyOf`;
 * every object sets `additionalProperties: false` and lists every property in `required`; the
 * composition keywords the guide lists as unsupported are refused (plus `oneOf`, refused as
 * reported from live traffic). The error wording is the live API's (reported), e.g.
 * `Invalid schema for function 'get_weather': In context=(), 'additionalProperties' is required to be supplied and to be false.`
 */
export const UNSUPPORTED_KEYWORDS = [
  'allOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  'dependentRequired',
  'dependentSchemas',
] as const;

type Path = (string | number)[];
type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Python's tuple repr, which the live messages use: `()`, `('properties',)`, `('properties', 'a', 'anyOf', 0)`. */
export function contextOf(path: Path): string {
  const parts = path.map((p) => (typeof p === 'number' ? String(p) : `'${p}'`));
  return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
}

/** The first problem, as the live message after `Invalid schema for function '<name>': `, or undefined. */
export function strictSchemaProblem(parameters: Schema): string | undefined {
  if (parameters.type !== 'object') {
    return `schema must be a JSON Schema of 'type: "object"', got 'type: "${parameters.type === undefined ? 'None' : String(parameters.type)}"'.`;
  }
  if ('anyOf' in parameters) return `In context=(), 'anyOf' is not permitted at the root.`;
  return walk(parameters, []);
}

function isObjectSchema(schema: Schema): boolean {
  const t = schema.type;
  return (
    t === 'object' ||
    (Array.isArray(t) && t.includes('object')) ||
    (t === undefined && 'properties' in schema)
  );
}

function walk(schema: Schema, path: Path): string | undefined {
  const at = contextOf(path);
  for (const keyword of UNSUPPORTED_KEYWORDS) {
    if (keyword in schema) return `In context=${at}, '${keyword}' is not permitted.`;
  }
  if (isObjectSchema(schema)) {
    if (schema.additionalProperties !== false) {
      return `In context=${at}, 'additionalProperties' is required to be supplied and to be false.`;
    }
    const properties = isSchema(schema.properties) ? schema.properties : {};
    const required = Array.isArray(schema.required) ? schema.required : undefined;
    const missing = Object.keys(properties).filter((k) => !required?.includes(k));
    if (required === undefined || missing.length > 0) {
      return `In context=${at}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing[0] ?? Object.keys(properties)[0] ?? ''}'.`;
    }
    const extra = required.find((k) => typeof k !== 'string' || !(k in properties));
    if (extra !== undefined) {
      return `In context=${at}, 'required' is required to be supplied and to be an array including every key in properties. Extra required key '${String(extra)}' supplied.`;
    }
    for (const [key, child] of Object.entries(properties)) {
      if (!isSchema(child)) continue;
      const problem = walk(child, [...path, 'properties', key]);
      if (problem) return problem;
    }
  }
  const children: [Path, unknown][] = [];
  if (isSchema(schema.items)) children.push([[...path, 'items'], schema.items]);
  if (Array.isArray(schema.anyOf)) schema.anyOf.forEach((s, i) => children.push([[...path, 'anyOf', i], s]));
  for (const defs of ['$defs', 'definitions'] as const) {
    const group = schema[defs];
    if (isSchema(group)) for (const [k, s] of Object.entries(group)) children.push([[...path, defs, k], s]);
  }
  for (const [childPath, child] of children) {
    if (!isSchema(child)) continue;
    const problem = walk(child, childPath);
    if (problem) return problem;
  }
  return undefined;
}

export const invalidFunctionParameters = (index: number, name: string, problem: string): ApiError =>
  new ApiError(
    400,
    `Invalid schema for function '${name}': ${problem}`,
    'invalid_request_error',
    `tools[${index}].parameters`,
    'invalid_function_parameters',
  );
