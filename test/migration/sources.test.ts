import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WithStartWorkflowOperation } from '@temporalio/client';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefaultAssistantsFixture } from '../../src/emulator/server.js';
import type { conversationWorkflow } from '../../src/workflows/conversation.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import { sendMessageUpdate } from '../../src/workflows/messages.js';
import { message, recordHistory, seen } from '../workflows/harness.js';
import { startMigrationEnv, type MigrationEnv } from './harness.js';

/** Each source kind end to end, and the proof that a migrated conversation is remembered. */
let env: MigrationEnv;
const dir = mkdtempSync(join(tmpdir(), 'threadline-migration-'));
beforeAll(async () => {
  env = await startMigrationEnv();
});
afterAll(async () => {
  await env?.close();
});

const texts = async (conversationId: string) => {
  const { rows } = await env.db.pool.query<{
    item: { type: string; role?: string; content?: { text: string }[] };
  }>('SELECT item FROM session_items WHERE session_id = $1 ORDER BY seq', [conversationId]);
  return rows.map((r) =>
    r.item.type === 'message' ? `${r.item.role}: ${r.item.content![0]!.text}` : r.item.type,
  );
};
/** The first batch child a migration started, from its parent's history. */
const batchOf = async (migrationId: string) => {
  const history = await env.client.workflow.getHandle(migrationId).fetchHistory();
  const started = history.events?.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
  return started!.startChildWorkflowExecutionInitiatedEventAttributes!.workflowId!;
};

const conversation = (externalId: string) =>
  conversationWorkflowId({ tenant: 'default', channel: 'web', externalId });

describe('an export file', () => {
  it(
    'with malformed lines reports their line numbers and migrates the rest',
    { timeout: 60_000 },
    async () => {
      const f = loadDefaultAssistantsFixture();
      const lines = [...f.threads, ...f.messages, ...f.runs, ...f.steps].map((o) => JSON.stringify(o));
      lines.splice(
        2,
        0,
        '{"object":"thread.message","id":"msg_cut_off","thread_id":"thread_fixture_plain","con',
      );
      lines.splice(7, 0, '', '["not", "an", "object"]'); // a blank line is not an issue; line 9 is
      const file = join(dir, 'export.jsonl');
      writeFileSync(file, lines.join('\n') + '\n');
      const mapping = join(dir, 'users.csv');
      writeFileSync(mapping, 'user_id,thread_id\ncarol,thread_fixture_travel\n');

      const handle = await env.start(
        { kind: 'assistants-export', file, mapping: { file: mapping } },
        { workflowId: 'v3-migration-parent' },
      );
      const result = await handle.result();
      await recordHistory('v3-migration-parent', handle);
      await recordHistory(
        'v3-migration-batch',
        env.client.workflow.getHandle(await batchOf(result.migrationId)),
      );
      expect(result).toMatchObject({ total: 3, done: 2, skipped: 1, failed: 0, items: 10 });
      expect(result.sourceIssues).toEqual({ count: 2, first: ['export.jsonl:3', 'export.jsonl:9'] });
      const { rows: issues } = await env.db.pool.query<{ reason: string }>(
        'SELECT reason FROM migration_source_issues ORDER BY line',
      );
      expect(issues.map((i) => i.reason)).toEqual([expect.stringMatching(/^not JSON/), 'not a JSON object']);
      // Mapped thread: keyed by the user; unmapped: by the thread id.
      expect(await texts(conversation('carol'))).toEqual([
        "user: What's the weather in Lisbon?",
        'function_call',
        'function_call_output',
        'assistant: It is 21°C and clear in Lisbon.',
        'user: Any museum tips? Please cite the guide.',
        expect.stringMatching(/^assistant: Visit the Gulbenkian/),
      ]);
      const { rows: meta } = await env.db.pool.query<{ metadata: { annotations?: unknown[] } }>(
        "SELECT metadata FROM migrated_item_metadata WHERE item_key = 'mig/asst/msg_travel_4'",
      );
      expect(meta[0]!.metadata.annotations).toHaveLength(1);
      const { rows: sources } = await env.db.pool.query(
        "SELECT source_id, conversation_id FROM conversation_sources WHERE source_id = 'thread_fixture_travel'",
      );
      expect(sources).toEqual([
        { source_id: 'thread_fixture_travel', conversation_id: conversation('carol') },
      ]);
    },
  );
});

describe('response chains', () => {
  it('are rebuilt in order; a missing link stops the walk and is recorded', { timeout: 60_000 }, async () => {
    const openai = new OpenAI({ apiKey: 'k', baseURL: env.emulator.baseUrl, maxRetries: 0 });
    const chain = async (words: string[]) => {
      const ids: string[] = [];
      for (const input of words) {
        const r = await openai.responses.create({
          model: 'gpt-5-mini',
          input,
          ...(ids.length ? { previous_response_id: ids.at(-1)! } : {}),
        });
        ids.push(r.id);
      }
      return ids;
    };
    const broken = await chain(['one', 'two', 'three']);
    const whole = await chain(['alpha', 'beta']);
    env.emulator.expireResponse(broken[0]!);

    const result = await env.run({
      kind: 'response-chains',
      chains: [
        { externalId: 'dave', responseId: broken[2]! },
        { externalId: 'erin', responseId: whole[1]! },
        { externalId: 'frank', responseId: 'resp_does_not_exist' },
      ],
    });
    // Four responses survive (two of dave's, both of erin's); a reasoning model's stored output
    // holds its reasoning item before the answer, as the live API keeps it: 4 x 3 items.
    expect(result).toMatchObject({ done: 2, failed: 1, items: 12 });
    expect(await texts(conversation('erin'))).toEqual([
      'user: alpha',
      'reasoning',
      expect.stringMatching(/^assistant: You said: "alpha"/),
      'user: beta',
      'reasoning',
      expect.stringMatching(/^assistant: You said: "beta"/),
    ]);
    expect((await texts(conversation('dave')))[0]).toBe('user: two');
    const { rows } = await env.db.pool.query<{
      unit_id: string;
      status: string;
      note: string | null;
      reason: string | null;
    }>('SELECT unit_id, status, note, reason FROM migration_units WHERE migration_id = $1 ORDER BY status', [
      result.migrationId,
    ]);
    expect(rows.find((r) => r.unit_id === broken[2])!.note).toBe(
      `chain broken at ${broken[0]}: not found (404 Response with id '${broken[0]}' not found.); kept the 2 newer response(s)`,
    );
    await recordHistory(
      'v3-migration-batch-failed',
      env.client.workflow.getHandle(await batchOf(result.migrationId)),
    );
    expect(rows.find((r) => r.unit_id === 'resp_does_not_exist')).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/^OpenAI 404/),
    });
    // The conversation continues server-side from the chain's last response.
    const { rows: conv } = await env.db.pool.query(
      'SELECT last_response_id FROM conversations WHERE id = $1',
      [conversation('dave')],
    );
    expect(conv).toEqual([{ last_response_id: broken[2] }]);
  });
});

describe('a legacy messages table', () => {
  it('becomes one conversation per key', { timeout: 60_000 }, async () => {
    await env.db.pool.query(`CREATE TABLE legacy_messages (
      id serial PRIMARY KEY, conversation_key text, role text, content text, created_at timestamptz)`);
    await env.db.pool.query(`INSERT INTO legacy_messages (conversation_key, role, content, created_at) VALUES
      ('+15550001', 'user', 'first', '2024-01-01T00:00:01Z'),
      ('+15550001', 'assistant', 'reply', '2024-01-01T00:00:02Z'),
      ('+15550002', 'user', 'other', '2024-01-01T00:00:03Z'),
      ('+15550001', 'user', 'second', '2024-01-01T00:00:04Z')`);
    // One child per run: continue-as-new between the two keys.
    const handle = await env.start(
      { kind: 'messages-table', table: 'legacy_messages' },
      { continueAsNewEvery: 1, workflowId: 'v3-migration-continue-as-new' },
    );
    const result = await handle.result();
    await recordHistory('v3-migration-continue-as-new', handle, handle.firstExecutionRunId);
    expect(result).toMatchObject({ total: 2, done: 2, items: 4 });
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    expect(await texts(conversation('+15550001'))).toEqual([
      'user: first',
      'assistant: reply',
      'user: second',
    ]);
  });
});

describe('a migrated conversation', () => {
  const turn = async (externalId: string, agent: string, text: string) =>
    env.client.workflow.executeUpdateWithStart(sendMessageUpdate, {
      args: [message(text)],
      startWorkflowOperation: new WithStartWorkflowOperation<typeof conversationWorkflow>(
        'conversationWorkflow',
        {
          workflowId: conversation(externalId),
          taskQueue: env.taskQueue,
          args: [{ tenant: 'default', channel: 'web', externalId, agent }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        },
      ),
    });

  it('is remembered on the next turn through a seeded OpenAI conversation', { timeout: 60_000 }, async () => {
    const mapping = join(dir, 'alice.json');
    writeFileSync(mapping, JSON.stringify({ alice: 'thread_fixture_plain' }));
    const result = await env.run(
      { kind: 'assistants-api', mapping: { file: mapping } },
      { target: { agent: 'keeper', seedLastItems: 10 } },
    );
    expect(result).toMatchObject({ done: 1, items: 4 });
    const seeded = env.emulator.requests().filter((r) => /^\/v1\/conversations\/[^/]+\/items$/.test(r.path));
    expect(seeded).toHaveLength(1);

    const reply = await turn('alice', 'keeper', 'Do you remember me?');
    expect(reply.status).toBe('answered');
    // Two migrated user messages and this one; the first is the thread's first.
    expect(seen(reply.text)).toEqual({ userMessages: 3, first: 'Hello! Can you help me write a haiku?' });
  });

  it('is remembered by a stateless agent, tool calls included', { timeout: 60_000 }, async () => {
    const result = await env.run(
      { kind: 'assistants-api', threadIds: ['thread_fixture_travel'] },
      { target: { agent: 'plain' } },
    );
    expect(result).toMatchObject({ done: 1, items: 6 });
    const reply = await turn('thread_fixture_travel', 'plain', 'And tomorrow?');
    expect(seen(reply.text)).toEqual({ userMessages: 3, first: "What's the weather in Lisbon?" });
  });
});
