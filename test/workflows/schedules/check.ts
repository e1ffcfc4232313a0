import type { Pool } from '../../../src/store/pool.js';
import type { ScheduleRun, UpdateOutcome } from './run.js';
import type { ScheduleWorld } from './world.js';

/**
 * The promises, checked from Postgres and the channel's books once a schedule has settled:
 * every accepted message answered exactly once (its turn has one reply or apology, delivered once),
 * no item duplicated, no function call without its output, nothing delivered twice, and every
 * update caller answered once (a reply, or a refusal it can retry).
 */
interface Item {
  turn: number | null;
  type: string;
  role: string | null;
  item_key: string;
  item: { content?: string | { type?: string; text?: string }[]; call_id?: string };
}

const textOf = (item: Item['item']): string =>
  typeof item.content === 'string' ? item.content : (item.content ?? []).map((p) => p.text ?? '').join('');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until every update caller has an outcome and every accepted message is answered and delivered. */
export async function settle(
  pool: Pool,
  run: ScheduleRun,
  timeoutMs: number,
): Promise<{ outcomes: { id: string; outcome: UpdateOutcome | 'hung' }[]; settled: boolean }> {
  const deadline = Date.now() + timeoutMs;
  const outcomes = await Promise.all(
    run.updates.map(async (u) => ({
      id: u.id,
      outcome: await Promise.race([
        u.outcome,
        sleep(Math.max(deadline - Date.now(), 0)).then(() => 'hung' as const),
      ]),
    })),
  );
  await acceptWhatPostgresTook(pool, run, outcomes);
  // Operator replies wait for the turn under way: settled like update callers.
  await Promise.all(
    run.operatorReplies.map((o) => Promise.race([o.outcome, sleep(Math.max(deadline - Date.now(), 0))])),
  );
  for (;;) {
    // A message recorded while a human had the conversation is answered by nobody: no delivery.
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM inbound_messages i
       WHERE i.conversation_id = $1 AND i.message_id = ANY($2::text[]) AND i.answered_at IS NOT NULL
         AND (i.in_human_mode OR EXISTS (SELECT 1 FROM deliveries d
               WHERE d.conversation_id = i.conversation_id AND d.turn = i.turn AND d.status = 'sent'))`,
      [run.conversationId, [...run.accepted]],
    );
    if (Number(rows[0]?.n ?? 0) >= run.accepted.size) return { outcomes, settled: true };
    if (Date.now() > deadline) return { outcomes, settled: false };
    await sleep(200);
  }
}

/**
 * An update caller that timed out cannot say whether the conversation took its message: the ones
 * Postgres has are accepted (and checked like any other), the rest were never taken.
 */
async function acceptWhatPostgresTook(
  pool: Pool,
  run: ScheduleRun,
  outcomes: { id: string; outcome: UpdateOutcome | 'hung' }[],
): Promise<void> {
  const uncertain = outcomes.filter((o) => o.outcome !== 'hung' && 'unknown' in o.outcome).map((o) => o.id);
  if (uncertain.length === 0) return;
  const { rows } = await pool.query<{ message_id: string }>(
    'SELECT message_id FROM inbound_messages WHERE conversation_id = $1 AND message_id = ANY($2::text[])',
    [run.conversationId, uncertain],
  );
  for (const r of rows) run.accepted.add(r.message_id);
}

export async function checkSchedule(
  world: ScheduleWorld,
  run: ScheduleRun,
  outcomes: { id: string; outcome: UpdateOutcome | 'hung' }[],
): Promise<string[]> {
  const { pool, sends } = world;
  const problems: string[] = [];
  await acceptWhatPostgresTook(pool, run, outcomes);
  const { rows: inbound } = await pool.query<{
    message_id: string;
    turn: number;
    answered: boolean;
    in_human_mode: boolean;
  }>(
    `SELECT message_id, turn, answered_at IS NOT NULL AS answered, in_human_mode FROM inbound_messages
      WHERE conversation_id = $1`,
    [run.conversationId],
  );
  const { rows: operatorRows } = await pool.query<{ message_id: string; turn: number }>(
    'SELECT message_id, turn FROM operator_messages WHERE conversation_id = $1',
    [run.conversationId],
  );
  const operatorTurns = new Map(operatorRows.map((r) => [r.message_id, r.turn]));
  const { rows: items } = await pool.query<Item & { segment: number }>(
    'SELECT turn, segment, type, role, item_key, item FROM session_items WHERE session_id = $1 ORDER BY seq',
    [run.conversationId],
  );
  const { rows: ledger } = await pool.query<{ turn: number; status: string }>(
    'SELECT turn, status FROM deliveries WHERE conversation_id = $1',
    [run.conversationId],
  );
  const turnOf = new Map(inbound.map((r) => [r.message_id, r]));
  const replyOfTurn = new Map<number, string[]>();
  for (const i of items)
    if (i.type === 'message' && i.role === 'assistant' && i.turn !== null)
      replyOfTurn.set(i.turn, [...(replyOfTurn.get(i.turn) ?? []), textOf(i.item)]);

  for (const id of run.accepted) {
    const row = turnOf.get(id);
    if (!row) {
      problems.push(`${id}: accepted but not in inbound_messages (dropped)`);
      continue;
    }
    if (!row.answered) problems.push(`${id}: its turn ${row.turn} never finished`);
    const replies = replyOfTurn.get(row.turn) ?? [];
    // In human mode the agent says nothing: the message is recorded, no reply, no apology.
    const expected = row.in_human_mode ? 0 : 1;
    if (replies.length !== expected)
      problems.push(`${id}: turn ${row.turn} has ${replies.length} replies (expected ${expected})`);
    if (run.mustBeHuman.has(id) && !row.in_human_mode)
      problems.push(
        `${id}: sent while a human had the conversation, yet the agent took it (turn ${row.turn})`,
      );
    const m = run.messages.find((x) => x.id === id)!;
    const copies = items.filter((i) => i.role === 'user' && textOf(i.item).includes(m.text));
    if (copies.length !== 1) problems.push(`${id}: its text is in ${copies.length} user items`);
  }
  for (const r of inbound)
    if (!run.accepted.has(r.message_id)) problems.push(`${r.message_id}: answered but never accepted`);

  // Function calls and their outputs pair up, one to one.
  const calls = items.filter((i) => i.type === 'function_call').map((i) => i.item.call_id);
  const outputs = items.filter((i) => i.type === 'function_call_output').map((i) => i.item.call_id);
  if (JSON.stringify([...calls].sort()) !== JSON.stringify([...outputs].sort()))
    problems.push(
      `function calls ${JSON.stringify(calls)} do not pair with outputs ${JSON.stringify(outputs)}`,
    );

  // Delivery: each answered turn once, under its turn's key, with its reply's text.
  const answeredTurns = new Set(
    [...run.accepted]
      .map((id) => turnOf.get(id))
      .filter((r) => r !== undefined && !r.in_human_mode)
      .map((r) => r!.turn),
  );
  // An operator reply is a turn of its own, delivered like the agent's.
  for (const o of run.operatorReplies) {
    const outcome = await Promise.race([o.outcome, Promise.resolve('hung')]);
    const turn = operatorTurns.get(o.id);
    if (outcome === 'refused') {
      if (turn !== undefined) problems.push(`${o.id}: refused to the operator, yet recorded at turn ${turn}`);
      continue;
    }
    // The operator's call timed out: taken or not, operator_messages says.
    if (outcome === 'unknown' && turn === undefined) continue;
    if (outcome !== 'sent' && outcome !== 'unknown') {
      problems.push(`${o.id}: the operator's update ended ${outcome}`);
      continue;
    }
    if (turn === undefined) {
      problems.push(`${o.id}: sent to the operator, but not in operator_messages`);
      continue;
    }
    const replies = replyOfTurn.get(turn) ?? [];
    if (replies.length !== 1 || replies[0] !== o.text)
      problems.push(`${o.id}: turn ${turn} holds ${JSON.stringify(replies)}, not the operator's reply`);
    answeredTurns.add(turn);
  }
  for (const id of operatorTurns.keys())
    if (!run.operatorReplies.some((o) => o.id === id)) problems.push(`${id}: an operator reply nobody sent`);
  const mine = sends.filter((s) => s.conversationId === run.conversationId);
  const keys = new Map<string, Set<string>>();
  for (const s of mine) keys.set(s.idempotencyKey, (keys.get(s.idempotencyKey) ?? new Set()).add(s.text));
  for (const turn of answeredTurns) {
    const key = `${run.conversationId}/${turn}`;
    if (!keys.has(key)) problems.push(`turn ${turn}: never delivered`);
    if (!ledger.some((l) => l.turn === turn && l.status === 'sent'))
      problems.push(`turn ${turn}: ledger not 'sent'`);
  }
  for (const [key, texts] of keys) {
    const turn = Number(key.slice(key.lastIndexOf('/') + 1));
    if (!answeredTurns.has(turn))
      problems.push(`${key}: delivered, but no accepted message has turn ${turn}`);
    if (texts.size !== 1) problems.push(`${key}: delivered with ${texts.size} different texts`);
    const [text] = [...texts];
    if (text !== undefined && !(replyOfTurn.get(turn) ?? []).includes(text))
      problems.push(`${key}: delivered a text that is not the turn's reply`);
  }
  const seenTexts = new Map<string, string>();
  for (const [key, texts] of keys)
    for (const t of [...texts].filter((x) => !/It was not run|not run:/.test(x))) {
      if (seenTexts.has(t)) problems.push(`the same reply delivered under ${seenTexts.get(t)} and ${key}`);
      seenTexts.set(t, key);
    }

  // Every update caller: exactly one outcome, consistent with Postgres.
  for (const { id, outcome } of outcomes) {
    if (outcome === 'hung') {
      problems.push(`${id}: the update caller never got an answer`);
      continue;
    }
    if ('error' in outcome) {
      problems.push(`${id}: the update caller got an error: ${outcome.error}`);
      continue;
    }
    if ('refused' in outcome) continue; // refused to its caller, retryable: a valid answer
    if ('unknown' in outcome) continue; // judged above by what Postgres took
    const { reply } = outcome;
    const row = turnOf.get(id);
    if (reply.status === 'duplicate') continue;
    if (reply.status === 'human') {
      if (!turnOf.get(id)?.in_human_mode)
        problems.push(`${id}: the caller was told 'human', Postgres disagrees`);
      continue;
    }
    if (!row || row.turn !== reply.turn) {
      problems.push(`${id}: the caller was told turn ${reply.turn}, Postgres has ${row?.turn}`);
      continue;
    }
    if (!(replyOfTurn.get(reply.turn) ?? []).includes(reply.text ?? '')) {
      problems.push(`${id}: the caller's reply text is not the turn's reply`);
    }
  }
  // A reset that reached a run puts every later new message in a later segment: the model forgot.
  for (const id of run.afterReset) {
    const row = turnOf.get(id);
    if (!row) continue;
    const segment = items.find((i) => i.turn === row.turn && i.role === 'user')?.segment;
    if (segment === 0) problems.push(`${id}: sent after a reset, answered in segment 0 (the reset was lost)`);
  }

  // Approvals: none left waiting; each decision an operator had applied is the one recorded.
  const { rows: approvals } = await pool.query<{ call_id: string; status: string }>(
    'SELECT call_id, status FROM tool_approvals WHERE conversation_id = $1',
    [run.conversationId],
  );
  for (const a of approvals)
    if (a.status === 'pending') problems.push(`approval ${a.call_id}: still pending`);
  for (const d of run.decisions) {
    const status = approvals.find((a) => a.call_id === d.callId)?.status;
    if (status !== (d.approve ? 'approved' : 'rejected'))
      problems.push(
        `approval ${d.callId}: the operator's ${d.approve ? 'approval' : 'rejection'} applied, Postgres says ${status}`,
      );
  }
  // Human mode at the end is what the last takeover or hand back said (a close ends it: not checked).
  if (run.humanModeAtEnd !== null) {
    const { rows } = await pool.query<{ human_mode: boolean }>(
      'SELECT human_mode FROM conversations WHERE id = $1',
      [run.conversationId],
    );
    const actual = rows[0]?.human_mode ?? false;
    if (actual !== run.humanModeAtEnd)
      problems.push(`human mode is ${actual}, but the last takeover/hand back said ${run.humanModeAtEnd}`);
  }

  // A close that reached a run, with nothing sent after it: the run ends and Postgres says closed.
  if (run.mustClose) {
    const handle = world.client.workflow.getHandle(run.conversationId);
    // A worker restart can hold the closing activity until its start-to-close timeout (30 s).
    const deadline = Date.now() + 40_000;
    let status = (await handle.describe()).status.name;
    while (status === 'RUNNING' && Date.now() < deadline) {
      await sleep(200);
      status = (await handle.describe()).status.name;
    }
    if (status !== 'COMPLETED') problems.push(`closed, but its run is ${status} (the close was lost)`);
    const { rows } = await pool.query<{ status: string }>('SELECT status FROM conversations WHERE id = $1', [
      run.conversationId,
    ]);
    if (rows[0] && rows[0].status !== 'closed') problems.push(`closed, but Postgres says ${rows[0].status}`);
  }
  return problems;
}
