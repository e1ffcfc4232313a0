import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { temporal } from '@temporalio/proto';
import { WithStartWorkflowOperation, type Client, type WorkflowHandle } from '@temporalio/client';
import { tool } from '@openai/agents';
import { z } from 'zod';
import type { ChannelSender } from '../../src/activities/delivery.js';
import { defineAgent } from '../../src/agents/define.js';
import { createRegistry } from '../../src/agents/registry.js';
import type { AgentDefinition, ToolContext } from '../../src/agents/types.js';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import type { conversationWorkflow, ConversationInput } from '../../src/workflows/conversation.js';
import { conversationWorkflowId } from '../../src/workflows/ids.js';
import {
  messageSignal,
  sendMessageUpdate,
  stateQuery,
  type ConversationStatus,
  type InboundMessage,
  type TurnReply,
} from '../../src/workflows/messages.js';
import {
  createTestDatabase,
  startTestWorker,
  testClient,
  uniqueTaskQueue,
  type RunningWorker,
  type TestDatabase,
} from '../support/env.js';

/**
 * A conversation runtime for one test file: a real worker on the shared dev server, its own
 * database, and its own emulator (so fault injection cannot leak into other files).
 */

export const MODEL = 'gpt-5-mini';

/** What the test tools saw: the runtime's identity, the model's arguments, and when they ran. */
export interface ToolRun {
  name: string;
  context: ToolContext;
  args: Record<string, unknown>;
  startedAt: number;
  endedAt: number;
}

export function testTools(runs: ToolRun[], delayMs = 300) {
  const record = async (
    name: string,
    args: Record<string, unknown>,
    runContext: unknown,
    result: unknown,
  ) => {
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, delayMs));
    runs.push({
      name,
      context: (runContext as { context: ToolContext }).context,
      args,
      startedAt,
      endedAt: Date.now(),
    });
    return JSON.stringify(result);
  };
  return [
    tool({
      name: 'get_weather',
      description: 'Weather in a city.',
      parameters: z.object({ city: z.string() }),
      strict: true,
      execute: (args, rc) => record('get_weather', args, rc, { city: args.city, temp: 21 }),
    }),
    tool({
      name: 'get_time',
      description: 'Time in a zone.',
      parameters: z.object({ zone: z.string() }),
      strict: true,
      execute: (args, rc) => record('get_time', args, rc, { zone: args.zone, time: '12:00' }),
    }),
  ];
}

export function testAgent(name: string, extra: Partial<AgentDefinition> = {}): AgentDefinition {
  return defineAgent({ name, model: MODEL, instructions: 'Be brief.', ...extra });
}

export interface Harness {
  client: Client;
  db: TestDatabase;
  emulator: Emulator;
  taskQueue: string;
  worker: RunningWorker;
  conversation(agent: string, externalId?: string): TestConversation;
  /** Stops the worker and starts a new one, optionally with another set of agents (a deploy). */
  restartWorker(options?: { agents?: AgentDefinition[] }): Promise<void>;
  close(): Promise<void>;
}

export interface TestConversation {
  workflowId: string;
  input: ConversationInput;
  handle: WorkflowHandle<typeof conversationWorkflow>;
  send(text: string, options?: { id?: string; user?: string }): Promise<TurnReply>;
  signal(text: string, options?: { id?: string; user?: string }): Promise<string>;
  state(): Promise<ConversationStatus>;
}

export function message(text: string, options: { id?: string; user?: string } = {}): InboundMessage {
  return {
    id: options.id ?? randomUUID(),
    text,
    receivedAt: new Date().toISOString(),
    ...(options.user ? { user: options.user } : {}),
  };
}

/** update-with-start: starts the conversation if needed, returns the turn's reply. */
export function sendWithStart(
  client: Client,
  taskQueue: string,
  input: ConversationInput,
  m: InboundMessage,
): Promise<TurnReply> {
  return client.workflow.executeUpdateWithStart(sendMessageUpdate, {
    args: [m],
    startWorkflowOperation: new WithStartWorkflowOperation<typeof conversationWorkflow>(
      'conversationWorkflow',
      {
        workflowId: conversationWorkflowId(input),
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      },
    ),
  });
}

export async function startHarness(options: {
  agents: AgentDefinition[];
  senders?: ReadonlyMap<string, ChannelSender>;
}): Promise<Harness> {
  const db = await createTestDatabase();
  const emulator = await startEmulator();
  const taskQueue = uniqueTaskQueue('wf');
  let registry = createRegistry(options.agents);
  const start = () =>
    startTestWorker({
      pool: db.pool,
      taskQueue,
      openaiBaseUrl: emulator.baseUrl,
      agents: registry,
      ...(options.senders ? { senders: options.senders } : {}),
    });
  let worker = await start();
  const { client, close } = await testClient();

  const harness: Harness = {
    client,
    db,
    emulator,
    taskQueue,
    get worker() {
      return worker;
    },
    conversation(agent, externalId = randomUUID()) {
      const input: ConversationInput = { tenant: 'default', channel: 'web', externalId, agent };
      const workflowId = conversationWorkflowId(input);
      const handle = client.workflow.getHandle<typeof conversationWorkflow>(workflowId);
      return {
        workflowId,
        input,
        handle,
        send: (text, opts) => sendWithStart(client, taskQueue, input, message(text, opts)),
        signal: async (text, opts) => {
          const m = message(text, opts);
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
          return m.id;
        },
        state: () => handle.query(stateQuery),
      };
    },
    async restartWorker(restart = {}) {
      await worker.stop();
      if (restart.agents) registry = createRegistry(restart.agents);
      worker = await start();
    },
    async close() {
      await worker.stop();
      await close();
      await emulator.close();
      await db.drop();
    },
  };
  return harness;
}

/** Parses the emulator's echo: `[context: N user messages; first: "..."; instructions: yes|no]`. */
export function seen(text: string | null): { userMessages: number; first: string } {
  const m = /\[context: (\d+) user messages; first: "(.*)"; instructions: (yes|no)\]$/.exec(text ?? '');
  if (!m) throw new Error(`not an emulator echo: ${text}`);
  return { userMessages: Number(m[1]), first: m[2]! };
}

/** The bodies of the /v1/responses requests the emulator received, oldest first. */
export function responseRequests(emulator: Emulator): Record<string, unknown>[] {
  return emulator
    .requests()
    .filter((r) => r.method === 'POST' && r.path === '/v1/responses')
    .map((r) => r.body as Record<string, unknown>);
}

/**
 * With RECORD_HISTORIES=1, saves a workflow's history to test/fixtures/histories/<name>.json for the
 * replay test, which then guards it against non-deterministic changes to the workflow code. Record
 * once per shipped workflow version; never overwrite an old recording (add a new name instead).
 */
export async function recordHistory(name: string, handle: WorkflowHandle, runId?: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await (runId ? handle.client.getHandle(handle.workflowId, runId) : handle).fetchHistory();
  const path = new URL(`../fixtures/histories/${name}.json`, import.meta.url);
  // An old recording is what an old version did: a new shape gets a new name.
  if (existsSync(path)) return;
  // Binary protobuf (base64): exact, and independent of the SDK's JSON conventions.
  const encoded = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('base64');
  writeFileSync(
    path,
    JSON.stringify(
      { workflowId: handle.workflowId, recordedAt: new Date().toISOString(), history: encoded },
      null,
      2,
    ) + '\n',
  );
}

/** Workflow ids matching a visibility query (what the Temporal UI's filter shows). */
export async function listWorkflowIds(client: Client, query: string): Promise<string[]> {
  const found: string[] = [];
  for await (const wf of client.workflow.list({ query })) found.push(wf.workflowId);
  return found;
}

/**
 * Waits until the emulator has taken a request matching the fault: a turn is then inside its model
 * call. (A state query cannot see it: a turn runs inside one workflow task, and a query is answered
 * between tasks.)
 */
export async function untilFaultHit(emulator: Emulator, fault: { id: string }): Promise<void> {
  // A spent fault is dropped from the list: it has hit.
  const hits = () => emulator.faults.list().find((f) => f.id === fault.id)?.hits ?? 1;
  const deadline = Date.now() + 10_000;
  while (hits() === 0) {
    if (Date.now() > deadline) throw new Error(`fault ${fault.id} was not hit within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
