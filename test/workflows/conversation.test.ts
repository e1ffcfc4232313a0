import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { conversationWorkflow, ConversationInput } from '../../src/workflows/conversation.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import {
  messageSignal,
  sendMessageUpdate,
  stateQuery,
  type InboundMessage,
} from '../../src/workflows/messages.js';
import {
  createTestDatabase,
  startTestWorker,
  testClient,
  uniqueTaskQueue,
  type RunningWorker,
  type TestDatabase,
} from '../support/env.js';

/** The first, minimal conversation workflow on a real dev server, real PostgreSQL and the emulator. */
let db: TestDatabase;
let worker: RunningWorker;
let client: Client;
let closeClient: () => Promise<void>;
const taskQueue = uniqueTaskQueue('conversation');

beforeAll(async () => {
  db = await createTestDatabase();
  worker = await startTestWorker({ pool: db.pool, taskQueue });
  ({ client, close: closeClient } = await testClient());
});
afterAll(async () => {
  await worker?.stop();
  await closeClient?.();
  await db?.drop();
});

function conversation(externalId = randomUUID()): { workflowId: string; input: ConversationInput } {
  const input = { tenant: 'default', channel: 'web', externalId, agent: 'assistant' };
  return { workflowId: conversationWorkflowId(input), input };
}

function message(text: string, id = randomUUID()): InboundMessage {
  return { id, text, receivedAt: new Date().toISOString() };
}

async function send(workflowId: string, input: ConversationInput, m: InboundMessage) {
  return client.workflow.executeUpdateWithStart(sendMessageUpdate, {
    args: [m],
    startWorkflowOperation: new WithStartWorkflowOperation<typeof conversationWorkflow>(
      'conversationWorkflow',
      {
        workflowId,
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      },
    ),
  });
}

describe('conversation workflow', () => {
  it('answers a message through the model and remembers earlier turns', async () => {
    const { workflowId, input } = conversation();
    const first = await send(workflowId, input, message('My name is Ada.'));
    expect(first.status).toBe('answered');
    expect(first.text).toBe(
      'You said: "My name is Ada." [context: 1 user messages; first: "My name is Ada."; instructions: yes]',
    );

    // The second turn is chained on the first response: the model sees both user messages.
    const second = await send(workflowId, input, message('What is my name?'));
    expect(second.text).toContain('[context: 2 user messages; first: "My name is Ada."');
    expect(second.turn).toBe(2);

    const state = await client.workflow.getHandle(workflowId).query(stateQuery);
    expect(state).toMatchObject({
      turns: 2,
      inboxLength: 0,
      lastResponseId: second.responseId,
      lastError: null,
    });
  });

  it('can be found by its search attributes, as operators do in the Temporal UI', async () => {
    const { workflowId, input } = conversation();
    await send(workflowId, input, message('find me'));
    const query = `ThreadlineTenant = "default" AND ThreadlineChannel = "web" AND ThreadlineAgent = "assistant" AND WorkflowId = "${workflowId}"`;
    await expect
      .poll(
        async () => {
          const found: string[] = [];
          for await (const wf of client.workflow.list({ query })) found.push(wf.workflowId);
          return found;
        },
        { timeout: 15_000 },
      )
      .toEqual([workflowId]);
  });

  it('keeps the transcript in Postgres, in order, one row per item', async () => {
    const { workflowId, input } = conversation();
    await send(workflowId, input, message('one'));
    await send(workflowId, input, message('two'));
    const { rows } = await db.pool.query<{ seq: string; type: string; role: string; turn: number }>(
      'SELECT seq, type, role, turn FROM session_items WHERE session_id = $1 ORDER BY seq',
      [workflowId],
    );
    expect(rows.map((r) => [Number(r.seq), r.role, r.turn])).toEqual([
      [1, 'user', 1],
      [2, 'assistant', 1],
      [3, 'user', 2],
      [4, 'assistant', 2],
    ]);
    const calls = await db.pool.query(
      'SELECT turn, status, response_id, request_id FROM model_calls WHERE conversation_id = $1 ORDER BY turn',
      [workflowId],
    );
    expect(calls.rows).toHaveLength(2);
    expect(calls.rows[0]).toMatchObject({ turn: 1, status: 'completed' });
    expect(calls.rows[0].request_id).toMatch(/^req_/);
  });

  it('answers a message id once, however often it is delivered', async () => {
    const { workflowId, input } = conversation();
    const m = message('only once please');
    await client.workflow.signalWithStart<typeof conversationWorkflow, [InboundMessage]>(
      'conversationWorkflow',
      {
        workflowId,
        taskQueue,
        args: [input],
        signal: messageSignal,
        signalArgs: [m],
      },
    );
    const handle = client.workflow.getHandle(workflowId);
    await handle.signal(messageSignal, m);
    // The same id through the update path returns the one answer, without a second turn.
    const reply = await send(workflowId, input, m);
    expect(reply.text).toContain('only once please');
    const again = await send(workflowId, input, m);
    expect(again).toEqual(reply);
    expect((await handle.query(stateQuery)).turns).toBe(1);
  });

  it('rejects an invalid message in the update validator, before it reaches history', async () => {
    const { workflowId, input } = conversation();
    const error = await send(workflowId, input, {
      id: '',
      text: 'x',
      receivedAt: new Date().toISOString(),
    }).then(
      () => undefined,
      (e: unknown) => e as Error & { cause?: Error },
    );
    expect(error?.message).toBe('Workflow Update failed');
    expect(error?.cause?.message).toMatch(/message.id must be a non-empty string/);
    // Rejected by the validator: no turn ran.
    expect((await client.workflow.getHandle(workflowId).query(stateQuery)).turns).toBe(0);
  });
});
