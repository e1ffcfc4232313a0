import { Agent, run, setDefaultOpenAIClient, setOpenAIAPI, setTracingDisabled, tool } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { createPool } from '../../../src/store/pool.js';
import { PostgresSession } from '../../../src/store/session/postgresSession.js';
import { createTestDatabase, type TestDatabase } from '../../support/env.js';

/**
 * `run(agent, input, { session })` of @openai/agents against the emulator, with the history in
 * PostgresSession. The emulator's echo shows what the model saw: how many user messages, and
 * the first one.
 */

const CONTEXT = /\[context: (\d+) user messages; first: "(.*)"; instructions: (yes|no)\]$/;

function seen(output: unknown): { users: number; first: string } {
  const match = CONTEXT.exec(String(output));
  if (!match) throw new Error(`Not an emulator echo: ${String(output)}`);
  return { users: Number(match[1]), first: match[2]! };
}

const getWeather = tool({
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: z.object({ city: z.string() }),
  execute: async ({ city }) => `{"city":"${city}","temp":21}`,
});

const agent = new Agent({
  name: 'concierge',
  instructions: 'Answer briefly.',
  model: 'gpt-5-mini',
  tools: [getWeather],
});

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  setDefaultOpenAIClient(new OpenAI({ baseURL: inject('emulatorBaseUrl'), apiKey: 'test', maxRetries: 0 }));
  setOpenAIAPI('responses');
  setTracingDisabled(true);
});
afterAll(async () => {
  await db.drop();
});

describe('@openai/agents run() with PostgresSession', () => {
  it('keeps memory across three runs and across a process restart', async () => {
    const session = await PostgresSession.open(db.pool, { sessionId: 's-run', tenant: 't', userId: 'u' });

    const r1 = await run(agent, 'Hello, I am Ann', { session });
    expect(seen(r1.finalOutput)).toEqual({ users: 1, first: 'Hello, I am Ann' });

    // A tool round trip: function_call and function_call_result go through the session too.
    const r2 = await run(agent, 'call get_weather {"city":"Oslo"}', { session });
    expect(r2.finalOutput).toBe('Tool results: get_weather -> {"city":"Oslo","temp":21}.');

    const r3 = await run(agent, 'What did I say first?', { session });
    expect(seen(r3.finalOutput)).toEqual({ users: 3, first: 'Hello, I am Ann' });

    const types = (await session.getItems()).map((i) => `${i.type}${'role' in i ? `:${i.role}` : ''}`);
    expect(types).toEqual([
      'message:user',
      'reasoning',
      'message:assistant',
      'message:user',
      'reasoning',
      'function_call',
      'function_call_result',
      'reasoning',
      'message:assistant',
      'message:user',
      'reasoning',
      'message:assistant',
    ]);
    // Stored in the Responses wire shape, the same rows the runtime's workflows write.
    const { rows } = await db.pool.query<{ type: string; item: Record<string, unknown> }>(
      "SELECT type, item FROM session_items WHERE session_id = 's-run' AND type LIKE 'function%' ORDER BY seq",
    );
    expect(rows.map((r) => r.type)).toEqual(['function_call', 'function_call_output']);
    expect(rows[1]!.item).toMatchObject({
      type: 'function_call_output',
      output: '{"city":"Oslo","temp":21}',
    });
    expect(rows[1]!.item.call_id).toBe(rows[0]!.item.call_id);

    // The wire shape carries everything of these SDK items but the tool name on the result.
    const { rows: patches } = await db.pool.query<{ type: string; sdk: unknown }>(
      "SELECT type, sdk FROM session_items WHERE session_id = 's-run' AND sdk IS NOT NULL",
    );
    expect(patches).toEqual([
      { type: 'function_call_output', sdk: { set: { name: 'get_weather' }, textOutput: true } },
    ]);

    // "Restart": a new pool and a new session object, same id.
    const pool = createPool(db.url, 2);
    try {
      const reopened = await PostgresSession.open(pool, { sessionId: 's-run', tenant: 't', userId: 'u' });
      const r4 = await run(agent, 'Still there?', { session: reopened });
      expect(seen(r4.finalOutput)).toEqual({ users: 4, first: 'Hello, I am Ann' });
    } finally {
      await pool.end();
    }
  });
});
