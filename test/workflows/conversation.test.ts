import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateQuery } from '../../src/workflows/messages.js';
import { listWorkflowIds, startHarness, testAgent, type Harness } from './harness.js';

/** The conversation workflow's basics on a real dev server, real PostgreSQL and the emulator. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ agents: [testAgent('assistant')] });
});
afterAll(async () => h?.close());

describe('conversation workflow', () => {
  it('keeps the transcript in Postgres, in order, one row per item, and every model call', async () => {
    const c = h.conversation('assistant');
    await c.send('one');
    await c.send('two');
    const { rows } = await h.db.pool.query<{ seq: string; type: string; role: string | null; turn: number }>(
      `SELECT seq, type, role, turn
         FROM session_items WHERE session_id = $1 ORDER BY seq`,
      [c.workflowId],
    );
    // A reasoning model's output is its reasoning item, then its message, as the live API returns it.
    expect(rows.map((r) => [Number(r.seq), r.type, r.role, r.turn])).toEqual([
      [1, 'message', 'user', 1],
      [2, 'reasoning', null, 1],
      [3, 'message', 'assistant', 1],
      [4, 'message', 'user', 2],
      [5, 'reasoning', null, 2],
      [6, 'message', 'assistant', 2],
    ]);
    const calls = await h.db.pool.query<{ turn: number; status: string; request_id: string }>(
      'SELECT turn, status, request_id FROM model_calls WHERE conversation_id = $1 ORDER BY turn',
      [c.workflowId],
    );
    expect(calls.rows.map((r) => [r.turn, r.status])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
    ]);
    expect(calls.rows[0]!.request_id).toMatch(/^req_/);
  });

  it('can be found by its search attributes, as operators do in the Temporal UI', async () => {
    const c = h.conversation('assistant');
    await c.send('find me');
    const query = `ThreadlineTenant = "default" AND ThreadlineChannel = "web" AND ThreadlineAgent = "assistant" AND WorkflowId = "${c.workflowId}"`;
    // Visibility is eventually consistent: poll the list as the UI would.
    await expect.poll(() => listWorkflowIds(h.client, query), { timeout: 15_000 }).toEqual([c.workflowId]);
  });

  it('rejects an invalid message in the update validator, before it reaches history', async () => {
    const c = h.conversation('assistant');
    await c.send('start');
    const error = await h.client.workflow
      .getHandle(c.workflowId)
      .executeUpdate('sendMessage', { args: [{ id: '', text: 'x', receivedAt: new Date().toISOString() }] })
      .then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: Error },
      );
    expect(error?.message).toBe('Workflow Update failed');
    expect(error?.cause?.message).toMatch(/message.id must be a non-empty string/);
    expect((await h.client.workflow.getHandle(c.workflowId).query(stateQuery)).turns).toBe(1);
  });
});
