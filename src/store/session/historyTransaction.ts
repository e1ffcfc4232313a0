import {
  protocol,
  UserError,
  type AgentInputItem,
  type SessionHistoryTransaction,
  type SessionHistoryTransactionArgs,
} from '@openai/agents';

/**
 * Validation of `applyHistoryTransaction` arguments, as the SDK's MemorySession does it: the same
 * checks in the same order with the same messages, so a caller sees one behaviour whichever session
 * it uses. The result is a detached snapshot (plain objects and arrays, Uint8Array copied): nothing
 * the caller does afterwards, and no getter, proxy or prototype, can change what gets stored.
 *
 * Messages never quote the input: items may hold secrets, and a throwing getter's own message is
 * replaced by a fixed one.
 *
 * Pure functions, no I/O.
 */

const INVALID_DATA = 'Session history transaction items contain invalid or unsupported data.';

export function snapshotTransactionArgs(args: SessionHistoryTransactionArgs): SessionHistoryTransactionArgs {
  let operationId: unknown;
  let transaction: unknown;
  try {
    if (!args || typeof args !== 'object') throw new Error('not an object');
    // Each read once: a getter answering differently the second time cannot split validation from use.
    operationId = Reflect.get(args, 'operationId');
    transaction = Reflect.get(args, 'transaction');
  } catch {
    throw new UserError('Session history transaction arguments are invalid.');
  }
  if (typeof operationId !== 'string' || !operationId.trim())
    throw new UserError('Session history transaction operationId must be a non-empty string.');
  if (!transaction || typeof transaction !== 'object')
    throw new UserError('Session history transaction must be an object.');
  return { operationId, transaction: snapshotTransaction(transaction) };
}

function snapshotTransaction(transaction: object): SessionHistoryTransaction {
  let record: Record<string, unknown>;
  try {
    record = snapshotValue(transaction) as Record<string, unknown>;
    // What a snapshot walk cannot see (a Proxy looks like its target) structuredClone refuses.
    structuredClone(transaction);
  } catch {
    throw new UserError(INVALID_DATA);
  }
  const hasExactly = (...keys: string[]) =>
    Object.keys(record).length === keys.length && keys.every((k) => Object.hasOwn(record, k));

  if (record.type === 'append_items') {
    if (!hasExactly('type', 'items') || !Array.isArray(record.items))
      throw new UserError('Session history append transaction fields are invalid.');
    return { type: 'append_items', items: validItems(record.items) };
  }
  if (record.type !== 'replace_suffix') throw new UserError('Unsupported session history transaction type.');
  if (
    !hasExactly('type', 'expectedSuffix', 'replacement') ||
    !Array.isArray(record.expectedSuffix) ||
    !Array.isArray(record.replacement)
  )
    throw new UserError('Session history suffix transaction fields are invalid.');
  return {
    type: 'replace_suffix',
    expectedSuffix: validItems(record.expectedSuffix),
    replacement: validItems(record.replacement),
  };
}

function validItems(items: unknown[]): AgentInputItem[] {
  for (const item of items)
    if (!protocol.ModelItem.safeParse(item).success) throw new UserError(INVALID_DATA);
  return items as AgentInputItem[];
}

/**
 * A copy made only of JSON values, plain objects, dense arrays and Uint8Array; anything else
 * (Date, Map, class instances, other typed arrays, symbols, bigint, functions, accessors,
 * non-enumerable or symbol keys, cycles) throws.
 */
export function snapshotValue(value: unknown, ancestors = new WeakSet<object>()): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') return value;
  if (typeof value !== 'object') throw new Error('unsupported value');
  if (value instanceof Uint8Array) {
    const keys = Reflect.ownKeys(value);
    if (keys.length !== value.length || keys.some((k) => typeof k !== 'string' || !isIndex(k, value.length)))
      throw new Error('unsupported binary property');
    return new Uint8Array(value);
  }
  if (ancestors.has(value)) throw new Error('cycle');
  ancestors.add(value);
  try {
    return Array.isArray(value) ? snapshotArray(value, ancestors) : snapshotObject(value, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function snapshotArray(value: unknown[], ancestors: WeakSet<object>): unknown[] {
  const lengthDescriptor = Object.getOwnPropertyDescriptor(value, 'length');
  const length: unknown =
    lengthDescriptor && 'value' in lengthDescriptor ? lengthDescriptor.value : undefined;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)
    throw new Error('unsupported array');
  // Dense and nothing else: the indices plus `length`.
  const keys = Reflect.ownKeys(value);
  if (
    keys.length !== length + 1 ||
    keys.some((k) => typeof k !== 'string' || (k !== 'length' && !isIndex(k, length)))
  )
    throw new Error('unsupported array');
  const copy = new Array<unknown>(length);
  for (let i = 0; i < length; i++) copy[i] = dataProperty(value, String(i), ancestors);
  return copy;
}

function snapshotObject(value: object, ancestors: WeakSet<object>): Record<string, unknown> {
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) throw new Error('unsupported object');
  const copy: Record<string, unknown> = {};
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key !== 'string') throw new Error('unsupported property');
    // defineProperty, not assignment: a key named `__proto__` stays an ordinary key.
    Object.defineProperty(copy, key, {
      configurable: true,
      enumerable: true,
      writable: true,
      value: dataProperty(value, key, ancestors),
    });
  }
  return copy;
}

/** An own, enumerable data property (never a getter, which could answer differently each read). */
function dataProperty(owner: object, key: string, ancestors: WeakSet<object>): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(owner, key);
  if (!descriptor?.enumerable || !('value' in descriptor)) throw new Error('unsupported property');
  return snapshotValue(descriptor.value, ancestors);
}

function isIndex(key: string, length: number): boolean {
  if (!/^(0|[1-9]\d*)$/.test(key)) return false;
  const index = Number(key);
  return Number.isSafeInteger(index) && index < length;
}
