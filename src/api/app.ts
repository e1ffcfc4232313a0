import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { ChannelsConfig, WhatsAppConfig } from '../config.js';
import { DEFAULT_AGENT } from '../agents/registry.js';
import { resolveAgent, type Routing } from '../agents/routing.js';
import type { Logger } from '../logger.js';
import { createApiMetrics, type ApiMetrics } from '../metrics/http.js';
import { withoutTenantSeries } from '../metrics/exposure.js';
import { cachedSnapshot } from '../metrics/postgres.js';
import type { Pool } from '../store/pool.js';
import { traceRequests } from '../telemetry/http.js';
import { signedWebhookRoutes } from '../channels/webhook/inbound.js';
import { whatsappRoutes } from '../channels/whatsapp/webhook.js';
import { secretsEqual } from './apiKeys.js';
import { authenticate, bearerToken, principalOf, type Access } from './auth.js';
import { cors } from './cors.js';
import { errorHandler, notFound, tooManyRequests, unauthorized } from './errors.js';
import { buildOpenApi } from './openapi.js';
import { pagesRouter, type PagesOptions } from './pages.js';
import { RateLimiter } from './rateLimit.js';
import { requestLog } from './requestLog.js';
import { rejectUndeclaredMethods, Routes, type RouteSpec } from './route.js';
import { adminRoutes } from './routes/admin.js';
import { conversationsRoutes } from './routes/conversations.js';
import { eventsRoutes } from './routes/events.js';
import { StreamNotifications } from '../streaming/subscriber.js';
import { healthRoutes } from './routes/health.js';
import { createAdmission } from './admission.js';
import { messagesRoutes } from './routes/messages.js';
import { migrationsRoutes } from './routes/migrations.js';
import { modelCallsRoutes } from './routes/modelCalls.js';
import { operatorsRoutes } from './routes/operators.js';

export interface AppDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
  /** The agent of every new conversation when no `routing` is given (default DEFAULT_AGENT). */
  agent?: string;
  /** Which agent answers a new conversation, by tenant, channel and WhatsApp number. */
  routing?: Routing;
  replyWaitMs: number;
  /** How long `?wait=true` waits for the conversation to take the message before a 503 (default 30 s). */
  acceptWaitMs?: number;
  /**
   * How many `?wait=true` messages are handed to their conversations at a time, the rest waiting in
   * arrival order (src/api/admission.ts); 0 or unset: no queue.
   */
  handoverLimit?: number;
  log: Logger;
  /** The operators' key (ADMIN_API_KEY). Unset: admin routes answer 401/403 to everyone. */
  adminApiKey?: string | undefined;
  rateLimitPerMinute?: number;
  /** METRICS_TOKEN: /metrics requires it (or the admin key) as a bearer token. */
  metricsToken?: string | undefined;
  corsOrigins?: readonly string[];
  bodyLimitBytes?: number;
  eventsPollMs?: number;
  channels?: ChannelsConfig;
  metrics?: ApiMetrics;
  /** The web chat and console; namespace defaults to `default`. */
  pages?: Partial<PagesOptions>;
  /** A server span per request (the tracer provider is registered by the caller: src/telemetry). */
  tracing?: boolean;
}

function routedAgent(routing: Routing, request: Parameters<typeof resolveAgent>[0]): string {
  const routed = resolveAgent(request, routing);
  return routed.ok ? routed.agent : routing.defaultAgent;
}

/**
 * Each business number's agent: its own, else what routing gives its tenant and number. Routing once
 * for the single-number variables would answer every tenant's numbers with WHATSAPP_TENANT's agent.
 */
function withRoutedNumbers(whatsapp: WhatsAppConfig, routing: Routing): WhatsAppConfig {
  if (!whatsapp.numbers) return whatsapp;
  return {
    ...whatsapp,
    numbers: whatsapp.numbers.map((n) => ({
      ...n,
      agent:
        n.agent ??
        routedAgent(routing, { tenant: n.tenant, channel: 'whatsapp', whatsappNumber: n.phoneNumberId }),
    })),
  };
}

export interface AppLocals {
  /** Aborted by `listen(...).stop()`: event streams end and /readyz answers 503 while draining. */
  closing: AbortController;
  specs: RouteSpec[];
}

/** The HTTP API. Stateless: run as many instances as needed behind a load balancer. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  const closing = new AbortController();
  const bodyLimitBytes = deps.bodyLimitBytes ?? 262_144;
  const metrics = deps.metrics ?? createApiMetrics();
  const limiter = new RateLimiter(deps.rateLimitPerMinute ?? 600);

  const rateLimit: RequestHandler = (_req, res, next) => {
    const p = principalOf(res);
    const r = limiter.take(p.kind === 'admin' ? 'admin' : p.keyId);
    res.set('x-ratelimit-remaining', String(r.remaining));
    if (!r.allowed) throw tooManyRequests(r.retryAfterSeconds);
    next();
  };
  const guard = (access: Access | 'none' | 'signature'): RequestHandler[] =>
    access === 'key' || access === 'admin'
      ? [authenticate({ pool: deps.pool, adminApiKey: deps.adminApiKey }, access), rateLimit]
      : [];

  const operations = new Routes(guard);
  const channels = new Routes(guard);
  const api = new Routes(guard);

  healthRoutes(operations, { client: deps.client, pool: deps.pool, closing: closing.signal });
  const postgresMetrics = cachedSnapshot(deps.pool);
  operations.add(
    {
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      tag: 'Operations',
      summary: 'Prometheus metrics',
      description:
        'Per instance: HTTP requests and webhook events. Cluster-wide, read from Postgres at scrape time: model ' +
        'calls, latency, tokens, cost, expiry recoveries, tool calls and errors, deliveries, turn latency. ' +
        'With METRICS_TOKEN set it needs `Authorization: Bearer <METRICS_TOKEN>` (or the admin key); without ' +
        'it, it is open and serves no series labelled by tenant.',
      access: 'none',
      headers: { Authorization: 'Bearer <METRICS_TOKEN>, when METRICS_TOKEN is set' },
      responses: {
        200: { description: 'Prometheus text format', contentType: 'text/plain' },
        401: { description: 'METRICS_TOKEN is set and the request does not carry it' },
      },
    },
    async (_input, req, res) => {
      const token = bearerToken(req.headers.authorization);
      const allowed = [deps.metricsToken, deps.adminApiKey].filter((s): s is string => !!s);
      if (deps.metricsToken && !(token && allowed.some((s) => secretsEqual(token, s))))
        throw unauthorized(
          '/metrics needs `Authorization: Bearer <METRICS_TOKEN>`.',
          'invalid_metrics_token',
        );
      const [own, fromPostgres] = await Promise.all([metrics.registry.metrics(), postgresMetrics()]);
      const text = own + fromPostgres;
      res.type(metrics.registry.contentType).send(deps.metricsToken ? text : withoutTenantSeries(text));
    },
  );
  let openapi: unknown;
  operations.add(
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'openapi',
      tag: 'Operations',
      summary: 'This document',
      access: 'none',
      responses: { 200: { description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) } },
    },
    (_input, _req, res) => {
      openapi ??= buildOpenApi(specs, { title: 'Threadline API', version: '1.0.0' });
      res.json(openapi);
    },
  );

  const routing: Routing = deps.routing ?? { defaultAgent: deps.agent ?? DEFAULT_AGENT };
  const common = {
    client: deps.client,
    pool: deps.pool,
    taskQueue: deps.taskQueue,
    bodyLimitBytes,
  };
  const whatsapp = deps.channels?.whatsapp;
  if (whatsapp)
    whatsappRoutes(channels, {
      ...common,
      agent: routedAgent(routing, {
        tenant: whatsapp.tenant,
        channel: 'whatsapp',
        whatsappNumber: whatsapp.phoneNumberId,
      }),
      config: withRoutedNumbers(whatsapp, routing),
      onEvent: (kind) => metrics.webhookEvents.inc({ channel: 'whatsapp', kind }),
    });
  if (deps.channels?.webhook)
    signedWebhookRoutes(channels, { ...common, routing, config: deps.channels.webhook });

  messagesRoutes(api, { ...deps, routing, admission: createAdmission(deps.handoverLimit ?? 0) });
  // A reset may start a run; it restores the conversation's own agent from Postgres.
  conversationsRoutes(api, { ...deps, agent: routing.defaultAgent });
  const notifications = new StreamNotifications(deps.pool);
  closing.signal.addEventListener('abort', () => void notifications.close(), { once: true });
  eventsRoutes(api, {
    client: deps.client,
    pool: deps.pool,
    pollMs: deps.eventsPollMs ?? 500,
    closing: closing.signal,
    notifications,
  });
  adminRoutes(api, deps);
  migrationsRoutes(api, deps);
  operatorsRoutes(api, { ...deps, agent: routing.defaultAgent });
  modelCallsRoutes(api, deps);

  const specs = [...operations.specs, ...channels.specs, ...api.specs];
  const locals: AppLocals = { closing, specs };
  Object.assign(app.locals, locals);

  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.tracing) app.use(traceRequests());
  app.use(requestLog(deps.log));
  app.use(metrics.middleware);
  app.use(helmet());
  app.use(cors(deps.corsOrigins ?? []));
  app.use(pagesRouter({ namespace: 'default', ...deps.pages }));
  app.use(operations.router);
  // Webhooks read their raw bytes (the signature covers them), so they come before the JSON parser.
  app.use(channels.router);
  app.use(express.json({ limit: bodyLimitBytes }));
  app.use(api.router);
  app.use(rejectUndeclaredMethods(specs));
  app.use(notFound);
  app.use(errorHandler(deps.log));
  return app;
}
