import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { stateQuery } from '../../src/workflows/messages.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { json, request, startApiEnv, type ApiEnv } from '../support/api.js';

/**
 * GET conversation during a turn. A turn in one hop runs inside one workflow task, and Temporal
 * answers a query only between tasks: the `state` query waits for the turn. The route answers
 * from Postgres instead once the query has not answered within its bound.
 */
let env: ApiEnv;
let emulator: Emulator;
let base: string;
beforeAll(async () => {
  emulator = await startEmulator();
  env = await startApiEnv({ openaiBaseUrl: emulator.baseUrl });
  base = await env.start();
});
afterAll(async () => {
  await env?.stop();
  await emulator?.close();
});

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await run();
  return { value, ms: performance.now() - started };
}

describe('GET conversation while a turn runs', () => {
  it('answers within a second during a 3 s model call, with status running and the last turn count', async () => {
    const key = await env.keyFor('default');
    const id = randomUUID();
    const url = `${base}/v1/conversations/web/${id}`;
    const first = await request('POST', `${url}/messages?wait=true`, key, { text: 'one' });
    expect(first.status).toBe(200);

    const slow = emulator.faults.add({
      kind: 'latency',
      latencyMs: 3_000,
      match: { path: '^/v1/responses$' },
    });
    const turn = request('POST', `${url}/messages?wait=true`, key, { text: 'two' });
    // The turn is inside its model call once the fault has hit (a spent fault leaves the list).
    await expect
      .poll(() => emulator.faults.list().find((f) => f.id === slow.id)?.hits ?? 1, {
        timeout: 10_000,
        interval: 20,
      })
      .toBeGreaterThan(0);

    const viaApi = await timed(async () => json(await request('GET', url, key)));
    // The query itself, asked at the same moment, waits for the turn's task.
    const handle = env.client.workflow.getHandle(
      conversationWorkflowId({ tenant: 'default', channel: 'web', externalId: id }),
    );
    const viaQuery = await timed(() => handle.query(stateQuery));
    console.log(
      'state during a 3 s model call',
      JSON.stringify({ apiMs: Math.round(viaApi.ms), queryMs: Math.round(viaQuery.ms) }),
    );
    expect(viaApi.ms).toBeLessThan(1_000);
    expect(viaApi.value).toMatchObject({ status: 'running', turns: 1, run: 'open' });

    expect((await turn).status).toBe(200);
    // Between turns the query answers, as before.
    const after = await timed(async () => json(await request('GET', url, key)));
    expect(after.value).toMatchObject({ status: 'idle', turns: 2 });
  });
});
