import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { AssistantsService, type AssistantsFixture } from './assistants.js';
import { OffsetClock, type EmulatorClock } from './clock.js';
import { ConversationService } from './conversations.js';
import { ApiError, invalidJsonBody, invalidRequest, missingApiKey, notFound } from './errors.js';
import {
  faultRuleSchema,
  Faults,
  proxyErrorPage,
  type FaultAction,
  type FaultController,
  type FaultRule,
} from './faults.js';
import { NO_STREAM_FAULTS, responseEvents, writeStream, type StreamFaults } from './streaming.js';
import { newId } from './ids.js';
import { transcribe } from './audio.js';
import { Journal, type RecordedRequest } from './journal.js';
import { ModelRegistry, type ModelOverride, type ModelProfile } from './models.js';
import { createChatCompletion } from './chatCompletions.js';
import { DAY_MS, ResponseService } from './responses.js';
import { EmulatorState, StateFile } from './state.js';

export { generateAssistantsFixture } from './assistants-fixture.js';
export type { AssistantsFixture } from './assistants.js';
export type { EmulatorClock } from './clock.js';
export type { FaultController, FaultRule, ActiveFault } from './faults.js';
export type { RecordedRequest } from './journal.js';
export type { ModelOverride, ModelProfile } from './models.js';

const modelOverrideSchema = z
  .object({
    contextWindowTokens: z.number().int().min(1).optional(),
    reasoningTokens: z.number().int().min(0).optional(),
    reasoningItems: z.boolean().optional(),
  })
  .strict();

export interface EmulatorOptions {
  /** 0 or undefined = a free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** JSON file: loaded on start, saved (debounced, and on close) so a dev restart keeps stored responses and conversations. */
  stateFile?: string;
  /** Default: src/emulator/fixtures/assistants.json. */
  assistantsFixture?: AssistantsFixture;
  /** Stored-response retention, default 30. */
  retentionDays?: number;
  /**
   * Per-model overrides of the model table (src/emulator/models.ts), e.g.
   * `{ 'gpt-5-mini': { contextWindowTokens: 2000 } }`. They survive reset().
   */
  models?: Record<string, ModelOverride>;
  /**
   * Reasoning models (gpt-5*, o-series) emit `reasoning` items before their answer, as the live
   * API does. Default true (DEFAULT_REASONING_ITEMS in models.ts); off or per model with
   * `models`, `emulator.models.set` or `POST /_emulator/models/{model}`.
   */
  reasoningItems?: boolean;
  /** Default silent. */
  logger?: { info(msg: string): void; warn(msg: string): void };
}

export interface Emulator {
  /** e.g. 'http://127.0.0.1:41234/v1' (what OPENAI_BASE_URL should be). */
  baseUrl: string;
  /** e.g. 'http://127.0.0.1:41234'. */
  origin: string;
  faults: FaultController;
  clock: EmulatorClock;
  expireResponse(id: string): void;
  /** Run-time model overrides (context window, reasoning cost); reset() drops them. */
  models: {
    set(model: string, override: ModelOverride): ModelProfile;
    profile(model: string): ModelProfile;
  };
  /** Bounded journal, the last 1000 requests, oldest first. */
  requests(): RecordedRequest[];
  /** Drops all state, faults, the journal and the clock offset. */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_FIXTURE_URL = new URL('./fixtures/assistants.json', import.meta.url);

export function loadDefaultAssistantsFixture(): AssistantsFixture {
  return JSON.parse(readFileSync(DEFAULT_FIXTURE_URL, 'utf8')) as AssistantsFixture;
}

interface RequestContext {
  requestId: string;
  rawBody: string;
}

type RawBodyRequest = IncomingMessage & { rawBody?: string };

const context = (res: Response): RequestContext => res.locals as RequestContext;

function sendError(res: Response, error: ApiError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  const shouldRetry = error.shouldRetryHeader();
  if (shouldRetry !== null) res.setHeader('x-should-retry', shouldRetry);
  res.status(error.status).json(error.toBody());
}

/**
 * The request is handled in full (stored, appended to its conversation) and only then is the
 * answer lost: the socket is destroyed, or a proxy's error page replaces the API's answer.
 */
function loseAnswer(res: Response, status: 502 | 504 | undefined): void {
  res.locals.loseAnswer = status ?? null;
  res.json = (() => {
    res.locals.answerLost = true;
    if (status === undefined) {
      res.socket?.destroy();
      return res;
    }
    res.removeHeader('x-request-id');
    res.removeHeader('openai-version');
    for (const name of res.getHeaderNames()) if (name.startsWith('x-')) res.removeHeader(name);
    res.status(status).type('text/html').send(proxyErrorPage(status));
    return res;
  }) as Response['json'];
}

function isStreamRequest(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { stream?: unknown }).stream === true;
}

type StreamAction = Extract<FaultAction, { type: 'stream' }>;

function mergeStreamFault(res: Response, action: StreamAction): StreamAction[] {
  return [...((res.locals.streamFaults as StreamAction[] | undefined) ?? []), action];
}

/** The stream faults of this request, with "half" resolved against the stream's length. */
function streamFaultsFor(res: Response, length: number): StreamFaults {
  const at = (v: number | 'half') => (v === 'half' ? Math.floor(length / 2) : v);
  const out: StreamFaults = { ...NO_STREAM_FAULTS };
  for (const a of (res.locals.streamFaults as StreamAction[] | undefined) ?? []) {
    if (a.eventDelayMs !== undefined) out.eventDelayMs += a.eventDelayMs;
    if (a.cut !== undefined) out.cutAfter = at(a.cut);
    if (a.error !== undefined) out.errorAfter = at(a.error);
  }
  return out;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const param = (req: Request, name: string): string => {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
};

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const logger = options.logger ?? { info: () => {}, warn: () => {} };
  const clock = new OffsetClock();
  const state = new EmulatorState();
  const faults = new Faults();
  const journal = new Journal(1000);
  const conversations = new ConversationService(state, clock);
  const models = new ModelRegistry(options.models, options.reasoningItems);
  const responses = new ResponseService(
    state,
    clock,
    conversations,
    (options.retentionDays ?? 30) * DAY_MS,
    models,
  );
  const assistants = new AssistantsService(options.assistantsFixture ?? loadDefaultAssistantsFixture());

  let stateFile: StateFile | undefined;
  if (options.stateFile) {
    stateFile = new StateFile(options.stateFile, () => state.toJSON(clock.offset));
    const saved = stateFile.read();
    if (saved) {
      const { clockOffsetMs } = state.load(saved);
      clock.reset(clockOffsetMs);
      logger.info(
        `emulator: loaded ${state.responses.size} responses and ${state.conversations.size} conversations from ${options.stateFile}`,
      );
    }
    const file = stateFile;
    state.onChange(() => file.schedule());
  }

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, res, next) => {
    const requestId = newId('req', 16);
    res.locals.requestId = requestId;
    res.locals.rawBody = '';
    res.setHeader('x-request-id', requestId);
    res.setHeader('openai-version', '2020-10-01');
    const startedAt = clock.now();
    // Captured now: mounted routers rewrite req.url while the request is handled.
    const path = req.path;
    let recorded = false;
    const record = (status: number) => {
      if (recorded) return;
      recorded = true;
      const rawBody = context(res).rawBody;
      let body: unknown;
      try {
        body = rawBody ? JSON.parse(rawBody) : undefined;
      } catch {
        body = rawBody;
      }
      journal.record({
        method: req.method,
        path,
        status,
        requestId,
        requestBytes: Buffer.byteLength(rawBody),
        responseBytes: Number(res.getHeader('content-length') ?? 0),
        body,
        at: startedAt,
        ...(typeof res.locals.responseId === 'string' ? { responseId: res.locals.responseId } : {}),
        ...(res.locals.answerLost === true ? { answerLost: true } : {}),
      });
    };
    res.on('finish', () => record(res.statusCode));
    res.on('close', () => record(res.writableFinished ? res.statusCode : 0));
    next();
  });

  app.use(
    express.json({
      limit: '50mb',
      verify: (req: RawBodyRequest, _res, buf) => {
        req.rawBody = buf.toString('utf8');
      },
    }),
  );
  app.use((req, res, next) => {
    res.locals.rawBody = (req as RawBodyRequest).rawBody ?? '';
    next();
  });

  // Fault injection and auth apply to the emulated API only, never to the admin routes.
  app.use('/v1', async (req, res, next) => {
    const streaming = isStreamRequest(req.body);
    for (const action of faults.actionsFor({
      method: req.method,
      path: req.originalUrl.split('?')[0] ?? req.originalUrl,
      rawBody: context(res).rawBody,
      streaming,
    })) {
      if (action.type === 'delay') await sleep(action.ms);
      else if (action.type === 'stream') res.locals.streamFaults = mergeStreamFault(res, action);
      else if (action.type === 'drop') {
        req.socket.destroy();
        return;
      } else if (action.type === 'lose_answer') loseAnswer(res, action.status);
      else return sendError(res, action.error);
    }
    next();
  });
  app.use('/v1', (req, res, next) => {
    const auth = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)/i.exec(auth);
    if (!match) return sendError(res, missingApiKey());
    next();
  });

  const v1 = express.Router();
  v1.post('/chat/completions', (req, res) => {
    res.json(createChatCompletion(req.body, clock));
  });
  v1.post('/responses', async (req, res) => {
    const response = responses.create(req.body);
    res.locals.responseId = response.id;
    if (!isStreamRequest(req.body)) return void res.json(response);
    if (res.locals.loseAnswer !== undefined) {
      // The work is done (stored, appended to a conversation); the answer never arrives.
      res.json(response);
      return;
    }
    const events = responseEvents(response);
    await writeStream(res, events, streamFaultsFor(res, events.length));
  });
  v1.post(
    '/audio/transcriptions',
    express.raw({ type: () => true, limit: '26mb' }),
    async (req, res, next) => {
      try {
        const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const result = await transcribe(raw, req.header('content-type'));
        res.type(result.contentType).send(result.body);
      } catch (err) {
        next(err);
      }
    },
  );
  v1.post('/responses/compact', (req, res) => {
    res.json(responses.compact(req.body));
  });
  v1.get('/responses/:id', (req, res) => {
    res.json(responses.retrieve(param(req, 'id')));
  });
  v1.delete('/responses/:id', (req, res) => {
    res.json(responses.delete(param(req, 'id')));
  });
  v1.get('/responses/:id/input_items', (req, res) => {
    res.json(responses.inputItems(param(req, 'id'), req.query));
  });

  v1.post('/conversations', (req, res) => {
    res.json(conversations.create(req.body));
  });
  v1.get('/conversations/:id', (req, res) => {
    res.json(conversations.retrieve(param(req, 'id')));
  });
  v1.post('/conversations/:id', (req, res) => {
    res.json(conversations.update(param(req, 'id'), req.body));
  });
  v1.delete('/conversations/:id', (req, res) => {
    res.json(conversations.delete(param(req, 'id')));
  });
  v1.post('/conversations/:id/items', (req, res) => {
    res.json(conversations.addItems(param(req, 'id'), req.body));
  });
  v1.get('/conversations/:id/items', (req, res) => {
    res.json(conversations.listItems(param(req, 'id'), req.query));
  });
  v1.get('/conversations/:id/items/:itemId', (req, res) => {
    res.json(conversations.getItem(param(req, 'id'), param(req, 'itemId')));
  });
  v1.delete('/conversations/:id/items/:itemId', (req, res) => {
    res.json(conversations.deleteItem(param(req, 'id'), param(req, 'itemId')));
  });

  v1.get('/threads/:id', (req, res) => {
    res.json(assistants.thread(param(req, 'id')));
  });
  v1.get('/threads/:id/messages', (req, res) => {
    res.json(assistants.listMessages(param(req, 'id'), req.query));
  });
  v1.get('/threads/:id/messages/:messageId', (req, res) => {
    res.json(assistants.message(param(req, 'id'), param(req, 'messageId')));
  });
  v1.get('/threads/:id/runs', (req, res) => {
    res.json(assistants.listRuns(param(req, 'id'), req.query));
  });
  v1.get('/threads/:id/runs/:runId', (req, res) => {
    res.json(assistants.run(param(req, 'id'), param(req, 'runId')));
  });
  v1.get('/threads/:id/runs/:runId/steps', (req, res) => {
    res.json(assistants.listSteps(param(req, 'id'), param(req, 'runId'), req.query));
  });
  app.use('/v1', v1);

  const admin = express.Router();
  admin.get('/health', (_req, res) => {
    res.json({ status: 'ok', threads: assistants.threadCount, responses: state.responses.size });
  });
  admin.get('/faults', (_req, res) => {
    res.json({ object: 'list', data: faults.list() });
  });
  admin.post('/faults', (req, res) => {
    const parsed = faultRuleSchema.safeParse(req.body);
    if (!parsed.success) {
      throw invalidRequest(
        `Invalid fault rule: ${z.prettifyError(parsed.error)}`,
        'body',
        'invalid_fault_rule',
      );
    }
    const rule = {
      ...parsed.data,
      times: (req.body as { times?: unknown }).times === null ? -1 : parsed.data.times,
    };
    try {
      res.json(faults.add(rule as FaultRule));
    } catch (error) {
      throw invalidRequest(`Invalid fault rule: ${(error as Error).message}`, 'body', 'invalid_fault_rule');
    }
  });
  admin.delete('/faults', (_req, res) => {
    faults.clear();
    res.json({ object: 'list', data: [] });
  });
  admin.get('/models/:model', (req, res) => {
    res.json({ model: param(req, 'model'), ...models.profile(param(req, 'model')) });
  });
  admin.post('/models/:model', (req, res) => {
    const parsed = modelOverrideSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      throw invalidRequest(`Invalid model override: ${z.prettifyError(parsed.error)}`, 'body');
    }
    res.json({ model: param(req, 'model'), ...models.set(param(req, 'model'), parsed.data) });
  });
  admin.get('/clock', (_req, res) => {
    const now = clock.now();
    res.json({ now_ms: now, now: Math.floor(now / 1000), offset_ms: clock.offset });
  });
  admin.post('/clock/advance', (req, res) => {
    const body = z
      .object({ seconds: z.number().min(0).optional(), ms: z.number().min(0).optional() })
      .safeParse(req.body ?? {});
    if (!body.success || (body.data.seconds === undefined && body.data.ms === undefined)) {
      throw invalidRequest('Expected {"seconds": n} or {"ms": n} with a non-negative number.', 'seconds');
    }
    clock.advance((body.data.seconds ?? 0) * 1000 + (body.data.ms ?? 0));
    state.changed();
    const now = clock.now();
    res.json({ now_ms: now, now: Math.floor(now / 1000), offset_ms: clock.offset });
  });
  admin.post('/responses/:id/expire', (req, res) => {
    responses.expire(param(req, 'id'));
    res.json({ id: param(req, 'id'), expired: true });
  });
  admin.get('/requests', (req, res) => {
    const limit = typeof req.query.limit === 'string' ? Number(req.query.limit) : undefined;
    res.json({ object: 'list', data: journal.list(Number.isFinite(limit) ? limit : undefined) });
  });
  admin.post('/reset', (_req, res) => {
    reset();
    res.json({ reset: true });
  });
  admin.get('/threads', (req, res) => {
    res.json(assistants.listThreads(req.query, 'asc'));
  });
  app.use('/_emulator', admin);

  app.use((req, _res, next) => {
    next(notFound(`Invalid URL (${req.method} ${req.path})`));
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof ApiError) return sendError(res, error);
    if (
      typeof error === 'object' &&
      error !== null &&
      (error as { type?: unknown }).type === 'entity.parse.failed'
    ) {
      return sendError(res, invalidJsonBody());
    }
    logger.warn(
      `emulator: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    sendError(
      res,
      new ApiError(
        500,
        'The server had an error while processing your request. Sorry about that!',
        'server_error',
      ),
    );
  });

  function reset(): void {
    state.clear();
    faults.clear();
    journal.clear();
    models.reset();
    clock.reset(0);
  }

  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const origin = `http://${host}:${address.port}`;
  logger.info(`emulator: listening on ${origin}/v1`);

  let closed: Promise<void> | undefined;
  return {
    baseUrl: `${origin}/v1`,
    origin,
    faults,
    clock,
    expireResponse: (id) => responses.expire(id),
    models: {
      set: (model, override) => models.set(model, override),
      profile: (model) => models.profile(model),
    },
    requests: () => journal.list(),
    reset,
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }).finally(() => stateFile?.flush());
      return closed;
    },
  };
}
