import { conversationWorkflowId } from '../src/workflows/ids.js';
import { DRILL_CHANNEL, DRILL_TENANT, DRILL_TOOL } from './agent.js';
import type { DrillEnv } from './env.js';
import { sleep, type SentMessage, type TrafficResult } from './traffic.js';

/**
 * The four promises every drill checks, from what Postgres holds after the traffic has settled:
 * each accepted message answered exactly once, no transcript item duplicated in meaning, each tool
 * side effect applied once, each reply delivered once. Item keys are unique by constraint, so the
 * checks look for duplicates a constraint cannot see: a message's text in two turns, two replies in
 * one turn, two outputs for one call, a model step recorded twice.
 */
export interface Verdict {
  problems: string[];
  counts: Record<string, number>;
}

interface ItemRow {
  turn: number | null;
  type: string;
  role: string | null;
  item_key: string | null;
  item: { content?: { type?: string; text?: string }[]; call_id?: string; name?: string };
}

const APOLOGY_PREFIX = 'Sorry, something went wrong';

export async function verify(env: DrillEnv, traffic: TrafficResult, settleMs = 120_000): Promise<Verdict> {
  const problems: string[] = [];
  const accepted = traffic.messages.filter((m) => m.outcome !== null);
  for (const m of traffic.messages.filter((m) => m.outcome === null))
    problems.push(`${m.id}: never accepted after ${m.attempts} attempts`);
  for (const m of traffic.messages.filter((m) => m.outcome === 'failed'))
    problems.push(`${m.id}: answered with the apology (the turn failed)`);

  await settle(env, accepted, settleMs);

  const counts = {
    conversations: 0,
    sent: traffic.messages.length,
    accepted: accepted.length,
    answered: 0,
    turns: 0,
    modelCalls: 0,
    recoveries: 0,
    toolCalls: 0,
    toolExecutions: 0,
    effectsApplied: 0,
    deliveries: 0,
    channelSends: 0,
    requestRetries: traffic.retriedRequests,
  };
  const byConversation = new Map<string, SentMessage[]>();
  for (const m of traffic.messages)
    byConversation.set(m.conversation, [...(byConversation.get(m.conversation) ?? []), m]);

  for (const [conversation, messages] of byConversation) {
    counts.conversations += 1;
    const wf = conversationWorkflowId({
      tenant: DRILL_TENANT,
      channel: DRILL_CHANNEL,
      externalId: conversation,
    });
    const where = (s: string) => problems.push(`${conversation}: ${s}`);
    const q = async <T extends object>(sql: string, args: unknown[] = [wf]) =>
      (await env.pool.query<T & Record<string, unknown>>(sql, args)).rows;

    const turnsRow = await q<{ turns: number }>('SELECT turns FROM conversations WHERE id = $1');
    const turns = turnsRow[0]?.turns ?? 0;
    counts.turns += turns;
    const inbound = new Map(
      (
        await q<{ message_id: string; turn: number }>(
          'SELECT message_id, turn FROM inbound_messages WHERE conversation_id = $1',
        )
      ).map((r) => [r.message_id, r.turn]),
    );
    const items = await q<ItemRow>(
      'SELECT turn, type, role, item_key, item FROM session_items WHERE session_id = $1 ORDER BY seq',
    );
    const textOf = (i: ItemRow) => (i.item.content ?? []).map((c) => c.text ?? '').join('');

    // Answered exactly once: one turn per message, its text in exactly one input item.
    const userTexts = items.filter((i) => i.type === 'message' && i.role === 'user').map(textOf);
    for (const m of messages.filter((x) => x.outcome !== null)) {
      const turn = inbound.get(m.id);
      if (turn === undefined) where(`${m.id} accepted but never taken into a turn`);
      const copies = userTexts.filter((t) => t === m.text).length;
      if (copies !== 1) where(`${m.id} is in the transcript ${copies} times`);
    }
    const known = new Set(messages.map((m) => m.text));
    for (const t of userTexts) if (!known.has(t)) where(`unexpected user item "${t.slice(0, 60)}"`);

    // One reply per turn, and it answers that turn's messages.
    for (let turn = 1; turn <= turns; turn++) {
      const replies = items.filter((i) => i.turn === turn && i.type === 'message' && i.role === 'assistant');
      if (replies.length !== 1) {
        where(`turn ${turn} has ${replies.length} replies`);
        continue;
      }
      const reply = textOf(replies[0]!);
      if (reply.startsWith(APOLOGY_PREFIX)) where(`turn ${turn} failed (apology sent)`);
      const ids = [...inbound].filter(([, t]) => t === turn).map(([id]) => id);
      const tool = messages.some((m) => ids.includes(m.id) && m.tool);
      const fits = tool
        ? reply.startsWith(`Tool results: ${DRILL_TOOL} -> effect applied`)
        : ids.every((id) => reply.includes(id));
      if (!fits) where(`turn ${turn}'s reply does not answer ${ids.join(', ')}: "${reply.slice(0, 80)}"`);
      counts.answered += ids.length;
    }

    // One model output per (turn, step), each with its model_calls row.
    const steps = new Set(
      items
        .map((i) => /^t(\d+)\/s(\d+)\/o\d+$/.exec(i.item_key ?? ''))
        .filter((x) => x !== null)
        .map((x) => `${x[1]}/${x[2]}`),
    );
    const calls = await q<{ turn: number; step: number; recovery: string | null }>(
      'SELECT turn, step, recovery FROM model_calls WHERE conversation_id = $1',
    );
    counts.modelCalls += calls.length;
    counts.recoveries += calls.filter((c) => c.recovery !== null).length;
    for (const c of calls) steps.delete(`${c.turn}/${c.step}`);
    if (steps.size > 0) where(`model outputs without a recorded call: ${[...steps].join(', ')}`);

    // Each function call answered once, its side effect applied once.
    const fnCalls = items.filter((i) => i.type === 'function_call');
    const outputs = items.filter((i) => i.type === 'function_call_output');
    const callIds = fnCalls.map((i) => i.item.call_id ?? '');
    if (new Set(callIds).size !== callIds.length) where('a function call appears twice');
    counts.toolCalls += fnCalls.length;
    const effects = new Map(
      (
        await q<{ idempotency_key: string; executions: number; applied: number }>(
          `SELECT idempotency_key, executions, applied FROM drill_side_effects WHERE idempotency_key LIKE $1 || '/%'`,
        )
      ).map((r) => [r.idempotency_key, r]),
    );
    for (const call of fnCalls) {
      const n = outputs.filter((o) => o.item.call_id === call.item.call_id).length;
      if (n !== 1) where(`call ${call.item.call_id} has ${n} outputs`);
      const key = `${wf}/${call.turn}/${call.item.call_id}`;
      const effect = effects.get(key);
      if (!effect) where(`call ${call.item.call_id} (turn ${call.turn}) has no side effect`);
      else if (effect.applied !== 1) where(`side effect ${key} applied ${effect.applied} times`);
      effects.delete(key);
    }
    for (const key of effects.keys()) where(`side effect ${key} belongs to no call in the transcript`);
    const all = await q<{ executions: number; applied: number }>(
      `SELECT executions, applied FROM drill_side_effects WHERE idempotency_key LIKE $1 || '/%'`,
    );
    counts.toolExecutions += all.reduce((s, r) => s + r.executions, 0);
    counts.effectsApplied += all.reduce((s, r) => s + r.applied, 0);

    // One delivery per turn.
    const sends = await q<{ idempotency_key: string; sends: number; delivered: number }>(
      'SELECT idempotency_key, sends, delivered FROM drill_deliveries WHERE conversation_id = $1',
    );
    counts.deliveries += sends.reduce((s, r) => s + r.delivered, 0);
    counts.channelSends += sends.reduce((s, r) => s + r.sends, 0);
    for (let turn = 1; turn <= turns; turn++) {
      const row = sends.find((r) => r.idempotency_key === `${wf}/${turn}`);
      if (!row) where(`turn ${turn} was never delivered`);
      else if (row.delivered !== 1) where(`turn ${turn} delivered ${row.delivered} times`);
    }
    if (sends.length !== turns) where(`${sends.length} deliveries for ${turns} turns`);
  }
  return { problems, counts };
}

/** Waits until every accepted message's turn has been delivered (or the time is up). */
async function settle(env: DrillEnv, accepted: SentMessage[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await env.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM inbound_messages m JOIN deliveries d
         ON d.conversation_id = m.conversation_id AND d.turn = m.turn AND d.status = 'sent'
       WHERE m.message_id = ANY($1::text[])`,
      [accepted.map((m) => m.id)],
    );
    if (Number(rows[0]?.n ?? 0) >= accepted.length) return;
    await sleep(500);
  }
}
