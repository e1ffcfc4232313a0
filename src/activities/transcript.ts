import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { getAgent, type AgentRegistry } from '../agents/registry.js';
import { senderKey } from '../channels/senders.js';
import { turnVerdict } from '../media/parts.js';
import { resolveAttachments, type MediaDeps } from '../media/resolve.js';
import { activityAttemptTimes } from '../media/attempt.js';
import { recordError } from './errorRecords.js';
import { agentSettings } from '../agents/define.js';
import type { AgentSettings } from '../agents/types.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { appendItems, loadTurnReplyText } from '../store/transcript.js';
import { chooseTurn } from './turnNumber.js';
import type { ConversationKey } from '../workflows/ids.js';
import type { HumanMode, InboundMessage, Strategy } from '../workflows/messages.js';

export interface TranscriptDeps {
  pool: Pool;
  agents: AgentRegistry;
  /** Inbound media: without it, media messages get the agent's media reply. */
  media?: MediaDeps;
}

export interface RecordTurnInputInput {
  conversationId: string;
  key: ConversationKey;
  agent: string;
  turn: number;
  segment: number;
  /** Workflow time at the start of the turn, for the agent's contextualize hook. */
  now: string;
  messages: InboundMessage[];
}

export interface RecordTurnInputResult {
  /** Ids answered by an earlier turn (redelivered after the workflow forgot them): not part of this turn. */
  duplicates: string[];
  items: number;
  /**
   * The turn these messages are answered in: the proposed one, or a later one when a run that ended
   * mid-turn left the proposed number holding other input. Absent in results recorded before.
   */
  turn?: number;
  /**
   * Set when nothing in the turn is usable by the model (a video, an unsupported type, media that
   * could not be received): the agent's configured reply is already in the transcript, and the turn
   * needs no model call. Absent otherwise and in results recorded before.
   */
  reply?: 'unsupported' | 'media_problem';
  /** The configured reply's text, with `reply`. */
  replyText?: string;
}

/** The item key of a turn's configured reply (see RecordTurnInputResult.reply). */
const cannedKey = (turn: number, kind: string) => `t${turn}/reply/${kind}`;

/**
 * Persists a turn's input: the agent's contextualize hook turns the messages into input items, kept
 * exactly as it built them. Idempotent: a retry finds the same message ids at the same turn and
 * resumes it. A new message never lands in a turn that holds other messages (see turnNumber.ts).
 */
export async function recordTurnInput(
  deps: TranscriptDeps,
  input: RecordTurnInputInput,
): Promise<RecordTurnInputResult> {
  const agent = getAgent(deps.agents, input.agent);
  // Media is fetched before the transaction (no lock held while downloading); it is idempotent by
  // media id, so a retry reads the store instead of downloading again.
  const messages = input.messages.some((m) => m.attachments?.length)
    ? await resolveAttachments(
        deps.media,
        {
          tenant: input.key.tenant,
          channel: input.key.channel,
          conversationId: input.conversationId,
          attempt: currentAttempt(),
          ...activityAttemptTimes(),
          fetcherKey: senderKey(input.key.tenant, input.key.channel),
          recordProblem: (p) =>
            recordError(deps.pool, {
              id: `err_${createHash('sha256')
                .update(`${input.conversationId}/${p.messageId}/${p.mediaId}`)
                .digest('hex')
                .slice(0, 24)}`,
              tenant: input.key.tenant,
              conversationId: input.conversationId,
              activity: 'recordTurnInput',
              type: p.type,
              reason: p.reason,
              message: p.detail,
              details: { messageId: p.messageId, mediaId: p.mediaId },
            }),
        },
        input.messages,
      )
    : input.messages;
  return withTransaction(deps.pool, async (tx) => {
    await tx.query(
      `INSERT INTO conversations (id, tenant, channel, external_id, agent, strategy, segment)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
      [
        input.conversationId,
        input.key.tenant,
        input.key.channel,
        input.key.externalId,
        agent.name,
        agent.strategy,
        input.segment,
      ],
    );
    // One turn is chosen at a time per conversation, even if a timed-out attempt still runs.
    const { rows: convo } = await tx.query<{ turns: number }>(
      'SELECT turns FROM conversations WHERE id = $1 FOR UPDATE',
      [input.conversationId],
    );
    const ids = input.messages.map((m) => m.id);
    const { rows: known } = await tx.query<{ message_id: string; turn: number; answered: boolean }>(
      `SELECT message_id, turn, answered_at IS NOT NULL AS answered FROM inbound_messages
       WHERE conversation_id = $1 AND message_id = ANY($2::text[])`,
      [input.conversationId, ids],
    );
    const turnsOfKnown = [...new Set(known.map((k) => k.turn))];
    const { rows: atTurns } = await tx.query<{ turn: number; ids: string[] }>(
      `SELECT turn, array_agg(message_id) AS ids FROM inbound_messages
       WHERE conversation_id = $1 AND turn = ANY($2::int[]) GROUP BY turn`,
      [input.conversationId, turnsOfKnown],
    );
    const { rows: used } = await tx.query<{ highest: number | null; taken: boolean }>(
      `SELECT GREATEST(
          (SELECT max(turn) FROM inbound_messages WHERE conversation_id = $1),
          (SELECT max(turn) FROM session_items WHERE session_id = $1)) AS highest,
        EXISTS (SELECT 1 FROM inbound_messages WHERE conversation_id = $1 AND turn = $2)
          OR EXISTS (SELECT 1 FROM session_items WHERE session_id = $1 AND turn = $2) AS taken`,
      [input.conversationId, input.turn],
    );
    const choice = chooseTurn({
      batch: ids,
      known: known.map((k) => ({ messageId: k.message_id, turn: k.turn, answered: k.answered })),
      idsAtTurn: new Map(atTurns.map((r) => [r.turn, r.ids])),
      proposed: input.turn,
      proposedTaken: used[0]?.taken ?? false,
      highest: Math.max(used[0]?.highest ?? 0, convo[0]?.turns ?? 0),
    });
    if (choice.kind === 'duplicate') return { duplicates: choice.duplicates, items: 0, turn: input.turn };
    if (choice.kind === 'resume') {
      const { rows } = await tx.query<{ n: string }>(
        `SELECT count(*) AS n FROM session_items WHERE session_id = $1 AND turn = $2 AND item_key LIKE $3`,
        [input.conversationId, choice.turn, `t${choice.turn}/in/%`],
      );
      const canned = await tx.query<{ item_key: string }>(
        'SELECT item_key FROM session_items WHERE session_id = $1 AND turn = $2 AND item_key LIKE $3',
        [input.conversationId, choice.turn, cannedKey(choice.turn, '%')],
      );
      const kind = canned.rows[0]?.item_key.split('/').at(-1);
      const reply = kind === 'unsupported' || kind === 'media_problem' ? kind : undefined;
      return {
        duplicates: choice.duplicates,
        items: Number(rows[0]?.n ?? 0),
        turn: choice.turn,
        ...(reply ? { reply, replyText: configuredReply(agent, reply) } : {}),
      };
    }

    const turn = choice.turn;
    const fresh = messages.filter((m) => choice.fresh.includes(m.id));
    await tx.query(
      `INSERT INTO inbound_messages (conversation_id, message_id, turn, received_at, metadata)
       SELECT $1, unnest($2::text[]), $3, unnest($4::timestamptz[]), unnest($5::jsonb[])`,
      [
        input.conversationId,
        choice.fresh,
        turn,
        fresh.map((m) => safeTime(m.receivedAt)),
        fresh.map((m) => (m.metadata ? JSON.stringify(m.metadata) : null)),
      ],
    );
    const user = fresh.find((m) => m.user)?.user ?? null;
    const items = agent.contextualize(fresh, {
      now: input.now,
      timeZone: agent.timeZone,
      tenant: input.key.tenant,
      channel: input.key.channel,
      conversationId: input.conversationId,
      user,
      turn,
      agent: agent.name,
    });
    await appendItems(
      tx,
      input.conversationId,
      items.map((item, i) => ({
        itemKey: `t${turn}/in/${i}`,
        item: item as unknown as Record<string, unknown>,
        turn,
        segment: input.segment,
      })),
    );
    const verdict = turnVerdict(fresh);
    if (verdict === 'usable') return { duplicates: choice.duplicates, items: items.length, turn };
    // Nothing the model could use: the configured reply answers, recorded like any reply.
    await appendItems(tx, input.conversationId, [
      {
        itemKey: cannedKey(turn, verdict),
        item: {
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [
            {
              type: 'output_text',
              text: configuredReply(agent, verdict),
              annotations: [],
            },
          ],
        },
        turn,
        segment: input.segment,
      },
    ]);
    return {
      duplicates: choice.duplicates,
      items: items.length,
      turn,
      reply: verdict,
      replyText: configuredReply(agent, verdict),
    };
  });
}

function configuredReply(
  agent: { mediaProblemReply: string; unsupportedMessageReply: string },
  kind: 'unsupported' | 'media_problem',
): string {
  return kind === 'media_problem' ? agent.mediaProblemReply : agent.unsupportedMessageReply;
}

/** The activity attempt (1 outside an activity, as in unit tests). */
function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

function safeTime(iso: string): string | null {
  return Number.isNaN(Date.parse(iso)) ? null : iso;
}

export interface SavedConversation {
  turns: number;
  segment: number;
  lastResponseId: string | null;
  lastError: string | null;
  strategy: Strategy;
  /** The conversation's current agent (a handoff changes it). Absent in results recorded before. */
  agent?: string;
  /** An operator has the conversation (takeover.ts); absent in results recorded before takeover. */
  humanMode?: HumanMode | null;
  /** The first turn the model has not seen since a takeover (takeover.ts); absent before takeover. */
  catchUpFromTurn?: number | null;
}

/** What a new run needs to pick up where the last one stopped (after an idle timeout or a close). */
export async function loadConversation(
  deps: TranscriptDeps,
  conversationId: string,
): Promise<SavedConversation | null> {
  const { rows } = await deps.pool.query<{
    turns: number;
    segment: number;
    last_response_id: string | null;
    last_error: string | null;
    strategy: Strategy;
    agent: string;
    human_mode: boolean;
    human_operator: string | null;
    human_reason: string | null;
    human_since: Date | null;
  }>(
    `SELECT turns, segment, last_response_id, last_error, strategy, agent, human_mode, human_operator,
       human_reason, human_since FROM conversations WHERE id = $1`,
    [conversationId],
  );
  const row = rows[0];
  if (!row) return null;
  // The first turn recorded without the model that the server-side state (chain, conversation)
  // lacks: customer messages in human mode and operator replies after the last model call.
  const { rows: catchUp } = await deps.pool.query<{ from_turn: number | null }>(
    `SELECT min(s.turn) AS from_turn FROM session_items s
      WHERE s.session_id = $1 AND s.segment = $2
        AND s.turn > COALESCE((SELECT max(turn) FROM model_calls WHERE conversation_id = $1 AND response_id = $3), 0)
        AND (s.item_key LIKE 't%/op/%'
             OR s.turn IN (SELECT turn FROM inbound_messages WHERE conversation_id = $1 AND in_human_mode))`,
    [conversationId, row.segment, row.last_response_id],
  );
  return {
    catchUpFromTurn: catchUp[0]?.from_turn ?? null,
    turns: row.turns,
    segment: row.segment,
    lastResponseId: row.last_response_id,
    lastError: row.last_error,
    strategy: row.strategy,
    agent: row.agent,
    humanMode: row.human_mode
      ? {
          operator: row.human_operator ?? 'unknown',
          reason: row.human_reason,
          since: (row.human_since ?? new Date(0)).toISOString(),
          // A tool's takeover is recorded as `tool:<name>` (takeoverFlow.ts).
          by: row.human_operator?.startsWith('tool:') ? 'tool' : 'operator',
        }
      : null,
  };
}

export function loadAgentSettings(deps: TranscriptDeps, agent: string): AgentSettings {
  return agentSettings(getAgent(deps.agents, agent));
}

export interface FinishTurnInput {
  conversationId: string;
  key: ConversationKey;
  agent: string;
  turn: number;
  segment: number;
  lastResponseId: string | null;
  error: string | null;
  /** For a failed turn: the apology the user gets, kept in the transcript like any reply. */
  apology: string | null;
}

/**
 * The conversation's row, created by whichever step reaches Postgres first (a finished turn, a
 * takeover, an operator's reply); an existing row is left as it is.
 */
export async function ensureConversation(
  q: Pick<Pool, 'query'>,
  c: { conversationId: string; key: ConversationKey; agent: string; segment: number },
): Promise<void> {
  await q.query(
    `INSERT INTO conversations (id, tenant, channel, external_id, agent, segment)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
    [c.conversationId, c.key.tenant, c.key.channel, c.key.externalId, c.agent, c.segment],
  );
}

export async function finishTurn(deps: TranscriptDeps, input: FinishTurnInput): Promise<void> {
  await withTransaction(deps.pool, async (tx) => {
    await ensureConversation(tx, input);
    await tx.query(
      `UPDATE conversations SET turns = GREATEST(turns, $2), last_response_id = $3, last_error = $4,
         segment = $5, status = 'active', agent = $6, updated_at = now() WHERE id = $1`,
      [input.conversationId, input.turn, input.lastResponseId, input.error, input.segment, input.agent],
    );
    await tx.query(
      `UPDATE inbound_messages SET answered_at = now()
       WHERE conversation_id = $1 AND turn = $2 AND answered_at IS NULL`,
      [input.conversationId, input.turn],
    );
    if (input.apology) {
      await appendItems(tx, input.conversationId, [
        {
          itemKey: `t${input.turn}/apology`,
          item: {
            type: 'message',
            role: 'assistant',
            status: 'incomplete',
            content: [{ type: 'output_text', text: input.apology, annotations: [] }],
          },
          turn: input.turn,
          segment: input.segment,
        },
      ]);
    }
  });
}

/** A new transcript segment: no server-side pointer, a fresh OpenAI conversation; old items stay. */
export async function startSegment(
  deps: TranscriptDeps,
  input: { conversationId: string; segment: number; key?: ConversationKey; agent?: string },
): Promise<void> {
  await withTransaction(deps.pool, async (tx) => {
    // A conversation reset before its first turn has no row yet: without one the segment was lost
    // when the run ended, and the next run answered in segment 0. Calls recorded before carry no key.
    if (input.key && input.agent)
      await ensureConversation(tx, {
        conversationId: input.conversationId,
        key: input.key,
        agent: input.agent,
        segment: input.segment,
      });
    await tx.query(
      `UPDATE conversations SET segment = GREATEST(segment, $2), last_response_id = NULL, openai_conversation_id = NULL,
         updated_at = now() WHERE id = $1`,
      [input.conversationId, input.segment],
    );
  });
}

export async function markClosed(deps: TranscriptDeps, conversationId: string): Promise<void> {
  await deps.pool.query(`UPDATE conversations SET status = 'closed', updated_at = now() WHERE id = $1`, [
    conversationId,
  ]);
}

/**
 * A turn's reply text (its last assistant message: the answer, or the apology), for an update caller
 * retrying a message whose reply crossed continue-as-new without its text.
 */
export function loadReplyText(
  deps: TranscriptDeps,
  input: { conversationId: string; turn: number },
): Promise<string | null> {
  return loadTurnReplyText(deps.pool, input.conversationId, input.turn);
}
