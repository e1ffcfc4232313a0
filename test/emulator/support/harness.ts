import OpenAI from 'openai';
import { expect } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../../src/emulator/server.js';

export interface Harness {
  emulator: Emulator;
  client: OpenAI;
}

export async function startHarness(options: EmulatorOptions = {}): Promise<Harness> {
  const emulator = await startEmulator(options);
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: emulator.baseUrl, maxRetries: 0, timeout: 10_000 });
  return { emulator, client };
}

/** Awaits a rejected SDK call and checks the fields the SDK exposes on its APIError. */
export async function expectApiError(
  promise: Promise<unknown>,
  expected: {
    status: number;
    code?: string | null;
    param?: string | null;
    type?: string;
    message?: string | RegExp;
  },
): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.APIError);
  const apiError = error as InstanceType<typeof OpenAI.APIError>;
  expect(apiError.status).toBe(expected.status);
  if (expected.code !== undefined) expect(apiError.code).toBe(expected.code);
  if (expected.param !== undefined) expect(apiError.param).toBe(expected.param);
  if (expected.type !== undefined) expect(apiError.type).toBe(expected.type);
  if (expected.message instanceof RegExp)
    expect((apiError.error as { message?: string }).message).toMatch(expected.message);
  else if (expected.message !== undefined)
    expect((apiError.error as { message?: string }).message).toBe(expected.message);
  expect(apiError.requestID).toMatch(/^req_/);
  return apiError;
}

/** Raw HTTP against the emulator, for what the SDK hides (headers, admin routes). */
export async function http(
  emulator: Emulator,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: 'Bearer sk-test' },
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await fetch(`${emulator.origin}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as unknown) : undefined };
}

export const MEMORY_LINE = /\[context: (\d+) user messages; first: "(.*)"; instructions: (yes|no)\]$/;

export function memoryOf(text: string): { users: number; first: string; instructions: boolean } {
  const m = MEMORY_LINE.exec(text);
  if (!m) throw new Error(`no memory line in ${JSON.stringify(text)}`);
  return { users: Number(m[1]), first: m[2]!, instructions: m[3] === 'yes' };
}
