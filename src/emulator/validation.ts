import { describeJsonType, invalidRequest, invalidType, unknownParameter } from './errors.js';

export const METADATA_MAX_PAIRS = 16;
export const METADATA_MAX_KEY_CHARS = 64;
export const METADATA_MAX_VALUE_CHARS = 512;

export type Metadata = Record<string, string>;

/** Validates `metadata` with the live API's limits (16 pairs, key ≤ 64, value ≤ 512 characters). */
export function parseMetadata(value: unknown, param = 'metadata'): Metadata {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidType(param, 'an object', value);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > METADATA_MAX_PAIRS) {
    throw invalidRequest(
      `Invalid '${param}': too many properties. Expected an object with at most ${METADATA_MAX_PAIRS} properties, but got an object with ${entries.length} properties instead.`,
      param,
      'object_above_max_properties',
    );
  }
  for (const [key, v] of entries) {
    if (key.length > METADATA_MAX_KEY_CHARS) {
      throw invalidRequest(
        `Invalid '${param}': key too long. Expected a key with maximum length ${METADATA_MAX_KEY_CHARS}, but got a key with length ${key.length} instead.`,
        param,
        'string_above_max_length',
      );
    }
    if (typeof v !== 'string') {
      throw invalidRequest(
        `Invalid type for '${param}.${key}': expected a string, but got ${describeJsonType(v)} instead.`,
        `${param}.${key}`,
        'invalid_type',
      );
    }
    if (v.length > METADATA_MAX_VALUE_CHARS) {
      throw invalidRequest(
        `Invalid '${param}.${key}': string too long. Expected a string with maximum length ${METADATA_MAX_VALUE_CHARS}, but got a string with length ${v.length} instead.`,
        `${param}.${key}`,
        'string_above_max_length',
      );
    }
  }
  return { ...(value as Metadata) };
}

export function arrayLengthWithin(value: unknown, param: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) throw invalidType(param, 'an array', value);
  if (value.length < min) {
    throw invalidRequest(
      value.length === 0
        ? `Invalid '${param}': empty array. Expected an array with minimum length ${min}, but got an empty array instead.`
        : `Invalid '${param}': array too short. Expected an array with minimum length ${min}, but got an array with length ${value.length} instead.`,
      param,
      value.length === 0 ? 'empty_array' : 'array_below_min_length',
    );
  }
  if (value.length > max) {
    throw invalidRequest(
      `Invalid '${param}': array too long. Expected an array with maximum length ${max}, but got an array with length ${value.length} instead.`,
      param,
      'array_above_max_length',
    );
  }
  return value;
}

export function rejectUnknownParameters(body: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const key of Object.keys(body)) {
    if (!known.has(key)) throw unknownParameter(key);
  }
}

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
