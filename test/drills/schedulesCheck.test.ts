import { describe, expect, it } from 'vitest';
import type { Pool } from '../../src/store/pool.js';
import { checkSchedule } from '../workflows/schedules/check.js';
import { updateOutcomeOf, type ScheduleRun } from '../workflows/schedules/run.js';
import type { ScheduleWorld } from '../workflows/schedules/world.js';

/**
 * The schedules checker on one update whose caller timed out (gRPC DEADLINE_EXCEEDED): the
 * conversation may or may not have taken the message, so Postgres decides, not the caller's error.
 */
const conversationId = 'conversation:t:c:s';
const deadline = () =>
  Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), {
    code: 4,
    details: 'Deadline exceeded',
    metadata: {},
  });

/** Postgres as the checker reads it: `recorded` messages are in inbound_messages, answered at turn 1. */
function world(recorded: string[]): ScheduleWorld {
  const user = (id: string) => ({
    turn: 1,
    segment: 0,
    type: 'message',
    role: 'user',
    item_key: `u/${id}`,
    item: { content: [{ type: 'input_text', text: `[${id}] message` }] },
  });
  const tables: [RegExp, unknown[]][] = [
    [
      /FROM inbound_messages/,
      recorded.map((id) => ({ message_id: id, turn: 1, answered: true, in_human_mode: false })),
    ],
    [/FROM operator_messages/, []],
    [
      /FROM session_items/,
      recorded.length
        ? [
            ...recorded.map(user),
            {
              turn: 1,
              segment: 0,
              type: 'message',
              role: 'assistant',
              item_key: 'a/1',
              item: { content: [{ type: 'output_text', text: 'the reply' }] },
            },
          ]
        : [],
    ],
    [/FROM deliveries/, recorded.length ? [{ turn: 1, status: 'sent' }] : []],
    [/FROM tool_approvals/, []],
  ];
  const pool = {
    query: async (sql: string, params?: unknown[]) => {
      const found = tables.find(([re]) => re.test(sql));
      if (!found) throw new Error(`unexpected query ${sql}`);
      let rows = found[1] as { message_id?: string }[];
      // A lookup of given message ids answers those only.
      const ids = params?.find(Array.isArray) as string[] | undefined;
      if (ids && /inbound_messages/.test(sql)) rows = rows.filter((r) => ids.includes(r.message_id!));
      return { rows, rowCount: rows.length };
    },
  } as unknown as Pool;
  return {
    pool,
    sends: recorded.length
      ? [{ conversationId, idempotencyKey: `${conversationId}/1`, text: 'the reply' }]
      : [],
  } as unknown as ScheduleWorld;
}

function run(id: string): ScheduleRun {
  return {
    label: 's',
    conversationId,
    messages: [{ id, text: `[${id}] message`, receivedAt: '2026-01-01T00:00:00Z' }],
    accepted: new Set(),
    updates: [],
    afterReset: new Set(),
    mustClose: false,
    operatorReplies: [],
    decisions: [],
    humanModeAtEnd: null,
    mustBeHuman: new Set(),
  };
}

describe('schedules checker: an update caller that timed out', () => {
  it('taken by the conversation (Postgres has it, answered once): no problem', async () => {
    const problems = await checkSchedule(world(['s.m0']), run('s.m0'), [
      { id: 's.m0', outcome: updateOutcomeOf(deadline()) },
    ]);
    expect(problems).toEqual([]);
  });

  it('never taken (Postgres has nothing): no problem either', async () => {
    const problems = await checkSchedule(world([]), run('s.m0'), [
      { id: 's.m0', outcome: updateOutcomeOf(deadline()) },
    ]);
    expect(problems).toEqual([]);
  });

  it("an operator's reply whose call timed out and that was never recorded: no problem", async () => {
    const r = run('s.m0');
    const outcome = Promise.resolve(updateOutcomeOf(deadline())).then((o) =>
      'unknown' in o ? 'unknown' : 'error',
    );
    r.operatorReplies.push({ id: 's.op0', text: '[s.op0] operator reply', outcome, settledAt: Date.now() });
    expect(await checkSchedule(world([]), r, [])).toEqual([]);
  });

  it('any other error is still a problem', async () => {
    const problems = await checkSchedule(world([]), run('s.m0'), [
      { id: 's.m0', outcome: updateOutcomeOf(new Error('boom')) },
    ]);
    expect(problems).toEqual([expect.stringMatching(/^s\.m0: the update caller got an error: boom/)]);
  });
});
