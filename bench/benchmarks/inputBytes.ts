import { randomUUID } from 'node:crypto';
import { AGENTS } from '../lib/agents.js';
import { sendMessage } from '../lib/api.js';
import { startApi } from '../lib/stack.js';
import type { Benchmark } from '../lib/types.js';

export interface InputBytesCase {
  name: 'chained' | 'stateless' | 'recovery';
  /** Request bytes of the successful model call(s) of the turn. */
  bytes: number;
  /** Every request of the turn: the recovery's failed chained attempt is one. */
  requests: { status: number; bytes: number }[];
  /** As the emulator counted them (model_calls.input_tokens). */
  inputTokens: number | null;
}

export interface InputBytesResult {
  turn: number;
  messageChars: number;
  historyTokenBudget: number;
  cases: InputBytesCase[];
}

const TURN = 50;

/**
 * Three conversations of 50 turns with ~2 KB messages, side by side: chained on
 * previous_response_id; stateless with a budget too large to trim (the full history every call);
 * chained, with its last response expired before turn 50 (the re-send is bounded by the default
 * 16,000-token budget). Bytes are read from the emulator's request journal.
 */
export const inputBytes: Benchmark<InputBytesResult> = {
  name: 'input-bytes',
  title: 'Input bytes per turn',
  async run({ stack, log }) {
    const stateless = await startApi(stack, AGENTS.stateless);
    const filler = 'I would like to change my booking for next week and ask about the menu. '.repeat(28);
    const ids = {
      chained: `bytes-chained-${randomUUID()}`,
      stateless: `bytes-stateless-${randomUUID()}`,
      recovery: `bytes-recovery-${randomUUID()}`,
    };
    const urls = { chained: stack.apiUrl, stateless: stateless.url, recovery: stack.apiUrl };
    const workflowIds: Record<string, string> = {};
    await Promise.all(
      (['chained', 'stateless', 'recovery'] as const).map(async (name) => {
        for (let turn = 1; turn <= TURN; turn++) {
          const sent = await sendMessage(stack, urls[name], ids[name], `${turn}: ${filler}`);
          if (sent.reply?.status !== 'answered')
            throw new Error(`input-bytes: ${name} turn ${turn}: ${JSON.stringify(sent.reply)}`);
          workflowIds[name] = sent.workflowId!;
          // Before the last turn, the server-side state of the recovery conversation goes away.
          if (name === 'recovery' && turn === TURN - 1) stack.emulator.expireResponse(sent.reply.responseId!);
        }
      }),
    );
    await stateless.stop();
    log('input-bytes: 3 × 50 turns done');

    const journal = stack.emulator.requests();
    const cases: InputBytesCase[] = [];
    for (const name of ['chained', 'stateless', 'recovery'] as const) {
      const requests = journal
        .filter((r) => {
          const meta = (r.body as { metadata?: Record<string, string> } | undefined)?.metadata;
          return (
            r.method === 'POST' &&
            r.path === '/v1/responses' &&
            meta?.conversation === ids[name] &&
            meta.turn === String(TURN)
          );
        })
        .map((r) => ({ status: r.status, bytes: r.requestBytes }));
      if (requests.length === 0)
        throw new Error(`input-bytes: no turn-${TURN} request of ${name} in the journal`);
      const { rows } = await stack.pool.query<{ input_tokens: number | null }>(
        'SELECT input_tokens FROM model_calls WHERE conversation_id = $1 AND turn = $2 ORDER BY step DESC LIMIT 1',
        [workflowIds[name], TURN],
      );
      cases.push({
        name,
        bytes: requests.filter((r) => r.status === 200).reduce((a, r) => a + r.bytes, 0),
        requests,
        inputTokens: rows[0]?.input_tokens ?? null,
      });
    }
    return { turn: TURN, messageChars: filler.length + 4, historyTokenBudget: 16_000, cases };
  },
};
