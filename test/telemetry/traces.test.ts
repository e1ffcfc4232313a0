import { randomBytes, randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultAgents } from '../../src/agents/registry.js';
import { createApiKey } from '../../src/api/apiKeys.js';
import { createApp } from '../../src/api/app.js';
import { listen } from '../../src/api/server.js';
import { signPayload } from '../../src/channels/signature.js';
import { senderKey } from '../../src/channels/senders.js';
import { createOpenAIClient } from '../../src/openaiClient.js';
import { tracedClient } from '../../src/telemetry/temporal.js';
import { startTracing, type Tracing } from '../../src/telemetry/tracing.js';
import { bundleWorkflows, createWorker } from '../../src/worker.js';
import { createTestDatabase, testClient, uniqueTaskQueue, type TestDatabase } from '../support/env.js';
import { startOtlpCollector, type CollectedSpan, type OtlpCollector } from '../support/otlpCollector.js';
import { request } from '../support/api.js';
import { recordHistory } from '../workflows/harness.js';
import { stateQuery } from '../../src/workflows/messages.js';

// Secrets that must never reach a span: the OpenAI key the worker uses, the tenant's API key,
// the webhook secret, and the text of every message (each test's text carries a unique marker).
const OPENAI_KEY = `sk-otel-test-${randomBytes(12).toString('hex')}`;
const WEBHOOK_SECRET = `whsec-${randomBytes(12).toString('hex')}`;
const markers: string[] = [];

let collector: OtlpCollector;
let tracing: Tracing;
let db: TestDatabase;
let worker: Worker;
let running: Promise<void>;
let connection: NativeConnection;
let closeClient: () => Promise<void>;
let stopApi: () => Promise<void>;
let base: string;
let key: string;
let client: Client;

beforeAll(async () => {
  collector = await startOtlpCollector();
  const started = startTracing(
    { otlpEndpoint: collector.endpoint, otlpHeaders: {}, serviceName: undefined },
    'threadline-test',
    { exportDelayMs: 100 },
  );
  if (!started) throw new Error('tracing did not start with an endpoint set');
  tracing = started;
  const [bundle, database] = await Promise.all([bundleWorkflows({ tracing: true }), createTestDatabase()]);
  db = database;
  const taskQueue = uniqueTaskQueue('otel');
  connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  worker = await createWorker({
    connection,
    namespace: inject('temporalNamespace'),
    taskQueue,
    pool: db.pool,
    openai: createOpenAIClient({ apiKey: OPENAI_KEY, baseUrl: inject('emulatorBaseUrl') }),
    agents: defaultAgents('gpt-5-mini'),
    senders: new Map([[senderKey('acme', 'sms'), { send: async () => 'sms-out-1' }]]),
    workflowBundle: bundle,
    tracing,
  });
  running = worker.run();
  const test = await testClient();
  client = test.client;
  closeClient = test.close;
  const app = createApp({
    client: tracedClient(client),
    pool: db.pool,
    taskQueue,
    agent: 'concierge',
    replyWaitMs: 30_000,
    log: pino({ level: 'silent' }),
    tracing: true,
    channels: {
      whatsapp: undefined,
      webhook: {
        secret: WEBHOOK_SECRET,
        channels: ['sms'],
        tenant: 'acme',
        toleranceSeconds: 300,
        callbackUrl: undefined,
      },
    },
  });
  const http = await listen(app, '127.0.0.1', 0, 2_000);
  stopApi = http.stop;
  base = http.url;
  key = (await createApiKey(db.pool, { tenant: 'acme', name: 'otel' })).key;
});

afterAll(async () => {
  await stopApi?.();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await running;
  await connection?.close();
  await closeClient?.();
  await tracing?.shutdown();
  await db?.drop();
  await collector?.close();
});

function message(text: string): string {
  const marker = `marker-${randomUUID()}`;
  markers.push(marker);
  return `${text} ${marker}`;
}

/** Waits until the trace holds every span named (a name listed twice must appear twice). */
async function traceWith(
  traceId: () => string | undefined,
  names: (string | RegExp)[],
): Promise<CollectedSpan[]> {
  let spans: CollectedSpan[] = [];
  await expect
    .poll(
      async () => {
        await tracing.forceFlush();
        const id = traceId();
        spans = collector.spans.filter((s) => s.traceId === id);
        const left = [...spans];
        return names.filter((n) => {
          const at = left.findIndex((s) => (typeof n === 'string' ? s.name === n : n.test(s.name)));
          if (at >= 0) left.splice(at, 1);
          return at < 0;
        });
      },
      { timeout: 30_000, interval: 200 },
    )
    .toEqual([]);
  return spans;
}

function one(spans: CollectedSpan[], name: string | RegExp): CollectedSpan {
  const found = spans.filter((s) => (typeof name === 'string' ? s.name === name : name.test(s.name)));
  expect(
    found.map((s) => s.name),
    String(name),
  ).toHaveLength(1);
  return found[0]!;
}

function all(spans: CollectedSpan[], name: string): CollectedSpan[] {
  return spans.filter((s) => s.name === name);
}

function parentOf(spans: CollectedSpan[], span: CollectedSpan): CollectedSpan {
  const parent = spans.find((s) => s.spanId === span.parentSpanId);
  expect(parent, `parent of ${span.name}`).toBeDefined();
  return parent!;
}

/** An activity's run is the child of its scheduling in the workflow, which is the child of the turn. */
function expectActivitiesUnder(spans: CollectedSpan[], turn: CollectedSpan, activities: string[]) {
  for (const activity of activities) {
    const runs = all(spans, `RunActivity:${activity}`);
    expect(runs.length, activity).toBeGreaterThan(0);
    for (const run of runs) {
      const scheduled = parentOf(spans, run);
      expect(scheduled.name).toBe(`StartActivity:${activity}`);
      expect(parentOf(spans, scheduled)).toBe(turn);
    }
  }
}

const HTTP_MESSAGES = /^POST \/v1\/conversations\/:[a-zA-Z]+\/:[a-zA-Z]+\/messages$/;
// The turn's steps as they are today (patches turn-in-fewer-hops, finish-in-answering-step): the
// input with the first model step, the tool, the second model step with the finish and delivery.
const TURN_ACTIVITIES = ['beginTurn', 'runTool', 'modelStep'];

describe('traces over OTLP', () => {
  it('one trace runs from POST ...?wait=true through update-with-start, the turn, each activity and each model call', async () => {
    const conversation = randomUUID();
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const text = message('call check_availability {"date":"2026-12-24","party_size":2}');
    const res = await request(
      'POST',
      `${base}/v1/conversations/web/${conversation}/messages?wait=true`,
      key,
      { text, id: 'm-1' },
      { traceparent: `00-${traceId}-${callerSpan}-01` },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { reply: { status: string; text: string } };
    expect(body.reply.status).toBe('answered');
    expect(body.reply.text).toContain('Tool results: check_availability');

    const spans = await traceWith(
      () => traceId,
      [
        HTTP_MESSAGES,
        'UpdateWithStartWorkflow:sendMessage',
        'HandleUpdate:sendMessage',
        'Turn',
        ...TURN_ACTIVITIES.map((a) => `RunActivity:${a}`),
        'chat gpt-5-mini',
        'chat gpt-5-mini',
      ],
    );

    // The caller's traceparent is continued; each hop is the child of the one before.
    const http = one(spans, HTTP_MESSAGES);
    expect(http.parentSpanId).toBe(callerSpan);
    expect(http.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.response.status_code': 200,
    });
    const start = one(spans, 'UpdateWithStartWorkflow:sendMessage');
    expect(parentOf(spans, start)).toBe(http);
    const handler = one(spans, 'HandleUpdate:sendMessage');
    expect(parentOf(spans, handler)).toBe(start);
    const turn = one(spans, 'Turn');
    expect(parentOf(spans, turn)).toBe(handler);
    expectActivitiesUnder(spans, turn, TURN_ACTIVITIES);

    // Two model calls (the tool call, then the answer), each inside its own activity run.
    const calls = all(spans, 'chat gpt-5-mini');
    expect(calls).toHaveLength(2);
    const runs = new Set(calls.map((c) => parentOf(spans, c)));
    expect([...runs].map((r) => r.name).sort()).toEqual(['RunActivity:beginTurn', 'RunActivity:modelStep']);
    for (const call of calls) {
      expect(call.attributes).toMatchObject({
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-5-mini',
        'gen_ai.response.model': 'gpt-5-mini',
        'threadline.provider': 'openai-responses',
        'threadline.recovery': 'none',
        'threadline.turn': 1,
      });
      expect(call.attributes['gen_ai.response.id']).toMatch(/^resp_/);
      expect(call.attributes['gen_ai.usage.input_tokens']).toBeGreaterThan(0);
      expect(call.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    }
    expect(calls.map((c) => c.attributes['threadline.step']).sort()).toEqual([1, 2]);

    // A second turn on the running workflow (an update, no start): its own trace, the same shape.
    const second = await request(
      'POST',
      `${base}/v1/conversations/web/${conversation}/messages?wait=true`,
      key,
      {
        text: message('thanks'),
        id: 'm-2',
      },
    );
    expect(second.status).toBe(200);
    const secondBody = (await second.json()) as { workflowId: string; reply: { turn: number } };
    expect(secondBody.reply.turn).toBe(2);
    const secondTrace = () =>
      collector.spans.find(
        (s) =>
          HTTP_MESSAGES.test(s.name) &&
          s.traceId !== traceId &&
          s.attributes['http.response.status_code'] === 200,
      )?.traceId;
    const secondSpans = await traceWith(secondTrace, [
      HTTP_MESSAGES,
      'UpdateWithStartWorkflow:sendMessage',
      'HandleUpdate:sendMessage',
      'Turn',
      'RunActivity:beginTurn',
      'chat gpt-5-mini',
    ]);
    const secondTurn = one(secondSpans, 'Turn');
    expect(parentOf(secondSpans, parentOf(secondSpans, parentOf(secondSpans, secondTurn)))).toBe(
      one(secondSpans, HTTP_MESSAGES),
    );
    // A plain turn is one step: the first model step answers, finishes and sends.
    expectActivitiesUnder(secondSpans, secondTurn, ['beginTurn']);
    expect(one(secondSpans, 'chat gpt-5-mini').attributes['threadline.turn']).toBe(2);
    const handle = client.workflow.getHandle(secondBody.workflowId);
    expect((await handle.query(stateQuery)).turns).toBe(2);
    await recordHistory('v4-otel-traced-turns', handle);
    await recordHistory('v6-otel-traced-turns', handle);
  });

  it('a message without wait (signal-with-start) and a signed webhook are traced the same way', async () => {
    const async = await request('POST', `${base}/v1/conversations/web/${randomUUID()}/messages`, key, {
      text: message('hello there'),
    });
    expect(async.status).toBe(202);
    const asyncTrace = () =>
      collector.spans.find(
        (s) =>
          HTTP_MESSAGES.test(s.name) &&
          s.status.code !== 2 &&
          s.attributes['http.response.status_code'] === 202,
      )?.traceId;
    const spans = await traceWith(asyncTrace, [
      HTTP_MESSAGES,
      'SignalWithStartWorkflow:conversationWorkflow',
      'HandleSignal:message',
      'Turn',
      'RunActivity:beginTurn',
      'chat gpt-5-mini',
    ]);
    const turn = one(spans, 'Turn');
    expect(parentOf(spans, parentOf(spans, turn))).toBe(
      one(spans, 'SignalWithStartWorkflow:conversationWorkflow'),
    );
    expectActivitiesUnder(spans, turn, ['beginTurn']);

    // Its own conversation: test files share one Temporal server, and a workflow id another file
    // uses (test/channels/webhook.test.ts) would take the signal to that file's worker.
    const webhookBody = JSON.stringify({
      id: `sms-${randomUUID()}`,
      conversationId: `+${randomUUID()}`,
      text: message('are you open?'),
    });
    const ts = Math.floor(Date.now() / 1000);
    const hook = await fetch(`${base}/v1/webhooks/sms`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-threadline-timestamp': String(ts),
        'x-threadline-signature': signPayload(WEBHOOK_SECRET, ts, webhookBody),
      },
      body: webhookBody,
    });
    expect(hook.status).toBe(202);
    const hookTrace = () => collector.spans.find((s) => s.name === 'POST /v1/webhooks/:channel')?.traceId;
    const hookSpans = await traceWith(hookTrace, [
      'POST /v1/webhooks/:channel',
      'SignalWithStartWorkflow:conversationWorkflow',
      'HandleSignal:message',
      'Turn',
      'RunActivity:beginTurn',
      'chat gpt-5-mini',
    ]);
    expect(hookSpans.length).toBeGreaterThan(0);
  });

  it('no span holds message text, the OpenAI key, the API key or the webhook secret', async () => {
    await tracing.forceFlush();
    expect(collector.bodies.length).toBeGreaterThan(0);
    const exported = collector.bodies.join('\n');
    // The export did carry attributes (a check on an empty export would prove nothing).
    expect(exported).toContain('gen_ai.usage.input_tokens');
    for (const secret of [...markers, OPENAI_KEY, key, WEBHOOK_SECRET, 'check_availability {']) {
      expect(exported).not.toContain(secret);
    }
  });
});
