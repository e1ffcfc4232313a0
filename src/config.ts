import { z } from 'zod';
import { DEFAULT_AGENT } from './agents/registry.js';
import { routingSchema, toRouting, type Routing } from './agents/routing.js';
import { DEFAULT_MEDIA_LIMITS, type MediaLimits } from './media/limits.js';

/**
 * The one place that reads the environment. Every entry point calls `loadConfig(process.env)` once
 * and passes the typed result down; nothing else looks at `process.env`.
 */

const postgresUrl = z
  .string()
  .trim()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), {
    message: 'is not a postgres URL: expected postgres://user:password@host:5432/database',
  });

const httpUrl = z
  .string()
  .trim()
  .refine((v) => /^https?:\/\//.test(v), {
    message: 'is not an http(s) URL: expected e.g. https://api.openai.com/v1',
  });

const port = z.coerce
  .number()
  .int()
  .min(0, { message: 'must be a TCP port between 0 and 65535' })
  .max(65535, { message: 'must be a TCP port between 0 and 65535' });

const hostPort = z
  .string()
  .trim()
  .refine((v) => /^[^\s:/]+:\d+$/.test(v), { message: 'must be host:port, e.g. localhost:7233' });

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

// Shared secrets people paste from a console: long enough to be worth something.
const secret = z.string().trim().min(16, { message: 'must be at least 16 characters' }).optional();

/** `a, b,c` -> ['a', 'b', 'c']; unset -> []. */
const list = z
  .string()
  .trim()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .optional();

const envSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default('threadline'),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_CLI_PATH: optionalString,
  TEMPORAL_UI_URL: httpUrl.optional(),
  THREADLINE_TEMPORAL: z
    .enum(['dev', 'server'], {
      message:
        'must be dev (the single-binary dev server on SQLite, the default) or server (Temporal Server on PostgreSQL, the production shape)',
    })
    .default('dev'),
  TEMPORAL_TLS_CERT_PATH: optionalString,
  TEMPORAL_TLS_KEY_PATH: optionalString,
  TEMPORAL_TLS_CA_PATH: optionalString,
  TEMPORAL_TLS_SERVER_NAME: optionalString,
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(1_000_000).optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).optional(),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(10_000).optional(),
  WORKER_MAX_WORKFLOW_TASK_POLLS: z.coerce.number().int().min(2).max(1_000).optional(),
  WORKER_NONSTICKY_POLL_RATIO: z.coerce.number().min(0.05).max(1).optional(),
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  EMBEDDED_POSTGRES_PORT: port.default(5433),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: httpUrl.optional(),
  OPENAI_MODEL: z.string().trim().min(1).default('gpt-5-mini'),
  EMULATOR_PORT: port.default(8787),
  PORT: port.default(3000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  THREADLINE_DATA_DIR: z.string().trim().min(1).default('.data'),
  REPLY_WAIT_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
  MESSAGE_ACCEPT_WAIT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  MESSAGE_HANDOVER_LIMIT: z.coerce.number().int().min(0).max(100_000).default(0),
  API_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10_000_000).default(262_144),
  ADMIN_API_KEY: z.string().trim().min(32, { message: 'must be at least 32 characters' }).optional(),
  METRICS_TOKEN: z.string().trim().min(16, { message: 'must be at least 16 characters' }).optional(),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(600),
  CORS_ORIGINS: list,
  EVENTS_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  WHATSAPP_APP_SECRET: secret,
  WHATSAPP_VERIFY_TOKEN: secret,
  WHATSAPP_ACCESS_TOKEN: optionalString,
  WHATSAPP_PHONE_NUMBER_ID: optionalString,
  WHATSAPP_API_BASE_URL: httpUrl.default('https://graph.facebook.com/v23.0'),
  WHATSAPP_TENANT: z.string().trim().min(1).default('default'),
  WHATSAPP_NUMBERS: optionalString,
  WEBHOOK_SECRET: secret,
  WEBHOOK_CHANNELS: list,
  WEBHOOK_TENANT: z.string().trim().min(1).default('default'),
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  CALLBACK_URL: httpUrl.optional(),
  WORKER_METRICS_ADDRESS: hostPort.optional(),
  /** JSON: which agent answers a new conversation (docs/agents.md); unset: DEFAULT_AGENT for all. */
  AGENT_ROUTING: optionalString,
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_HEADERS: optionalString,
  OTEL_SERVICE_NAME: optionalString,
  MEDIA_MAX_IMAGE_BYTES: z.coerce.number().int().min(1).default(DEFAULT_MEDIA_LIMITS.maxBytes.image),
  MEDIA_MAX_DOCUMENT_BYTES: z.coerce.number().int().min(1).default(DEFAULT_MEDIA_LIMITS.maxBytes.document),
  MEDIA_MAX_AUDIO_BYTES: z.coerce.number().int().min(1).default(DEFAULT_MEDIA_LIMITS.maxBytes.audio),
  MEDIA_IMAGE_TYPES: list,
  MEDIA_DOCUMENT_TYPES: list,
  MEDIA_AUDIO_TYPES: list,
  MEDIA_FETCH_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(DEFAULT_MEDIA_LIMITS.maxAttempts),
  MEDIA_DOWNLOAD_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(25_000)
    .default(DEFAULT_MEDIA_LIMITS.downloadTimeoutMs),
  MEDIA_FETCH_MAX_TOTAL_MS: z.coerce.number().int().min(1_000).default(DEFAULT_MEDIA_LIMITS.maxTotalMs),
  OPENAI_TRANSCRIPTION_MODEL: z.string().trim().min(1).default('gpt-4o-mini-transcribe'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every environment variable Threadline reads (deployment files are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface Config {
  temporal: {
    /** Unset means "start an embedded dev server" for `npm run dev`; the worker and API default to localhost:7233. */
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    apiKey: string | undefined;
    cliPath: string | undefined;
    /** The Temporal Web UI, for the console's links to a conversation's workflow. */
    uiUrl: string | undefined;
    /**
     * What `npm run dev`, the bench and the drills start when TEMPORAL_ADDRESS is unset: the CLI's
     * dev server, or Temporal Server on PostgreSQL as docker-compose.yml runs it (src/temporal/server.ts).
     */
    shape: 'dev' | 'server';
    devPort: number;
    devUiPort: number;
    /** mTLS to a self-hosted cluster or Temporal Cloud: paths to PEM files. */
    tls:
      | { certPath: string; keyPath: string; caPath: string | undefined; serverName: string | undefined }
      | undefined;
  };
  /**
   * On SIGTERM, how long in-flight activities may finish before they are cancelled; a cancelled
   * model call aborts its HTTP request and is retried by another worker.
   */
  workerShutdownGraceMs: number;
  /** Worker tuning; unset values keep the SDK's defaults (which size themselves to the machine). */
  workerTuning: {
    maxCachedWorkflows: number | undefined;
    maxConcurrentActivityTaskExecutions: number | undefined;
    maxConcurrentWorkflowTaskExecutions: number | undefined;
    /** Workflow task polls in flight (sticky and shared queue together). */
    maxConcurrentWorkflowTaskPolls: number | undefined;
    /**
     * The shared task queue's share of those polls: new conversations and evicted ones arrive there,
     * running cached ones on the worker's sticky queue.
     */
    nonStickyToStickyPollRatio: number | undefined;
  };
  database: {
    /** Unset means "embedded PGlite under dataDir" for `npm run dev`. */
    url: string | undefined;
    poolSize: number;
    embeddedPort: number;
  };
  openai: {
    /** Unset means "use the bundled emulator" for `npm run dev`. */
    apiKey: string | undefined;
    baseUrl: string | undefined;
    model: string;
    emulatorPort: number;
  };
  api: {
    port: number;
    host: string;
    replyWaitMs: number;
    /** How long `?wait=true` waits for the conversation to take a message before a 503. */
    acceptWaitMs: number;
    /** `?wait=true` messages handed over at a time, the rest in arrival order (0: no queue). */
    handoverLimit: number;
    bodyLimitBytes: number;
    /** The operators' key: manages API keys and may act for any tenant. Unset: no admin access. */
    adminApiKey: string | undefined;
    rateLimitPerMinute: number;
    /** Bearer token /metrics requires; unset: /metrics is open and serves no per-tenant series. */
    metricsToken: string | undefined;
    /** Origins allowed by CORS; empty means no CORS headers at all. */
    corsOrigins: string[];
    eventsPollMs: number;
    shutdownGraceMs: number;
  };
  channels: ChannelsConfig;
  /** Inbound media: size and type limits (src/media/limits.ts says where the defaults come from). */
  media: MediaLimits & { transcriptionModel: string };
  /** host:port for the standalone worker's Prometheus exporter (Temporal SDK metrics); unset: off. */
  workerMetricsAddress: string | undefined;
  telemetry: TelemetryConfig;
  dataDir: string;
  /** Which agent answers a new conversation; without AGENT_ROUTING, DEFAULT_AGENT for everyone. */
  routing: Routing;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

/** OpenTelemetry traces over OTLP/HTTP; off (and free) while the endpoint is unset. */
export interface TelemetryConfig {
  /** The OTLP/HTTP base URL, e.g. http://localhost:4318 (spans go to <endpoint>/v1/traces). */
  otlpEndpoint: string | undefined;
  /** OTEL_EXPORTER_OTLP_HEADERS: `key=value,key2=value2` sent with every export (a vendor's API key). */
  otlpHeaders: Record<string, string>;
  /** Unset: each process names itself (threadline-api, threadline-worker, threadline for npm run dev). */
  serviceName: string | undefined;
}

export interface WhatsAppConfig {
  appSecret: string;
  verifyToken: string;
  /** Outbound needs both; without them WhatsApp is inbound only. */
  accessToken: string | undefined;
  phoneNumberId: string | undefined;
  apiBaseUrl: string;
  tenant: string;
  /**
   * The business numbers, each with its tenant (WHATSAPP_NUMBERS, plus WHATSAPP_PHONE_NUMBER_ID as
   * one entry). Unset (configs built in code): the single number of the fields above.
   */
  numbers?: WhatsAppNumber[];
}

/** One WhatsApp business number: the webhook routes its messages to `tenant`; replies go out from it. */
export interface WhatsAppNumber {
  phoneNumberId: string;
  tenant: string;
  /** The agent of new conversations on this number; unset: the default agent. */
  agent?: string;
  /** Its Graph API token; unset: WHATSAPP_ACCESS_TOKEN; neither: inbound only. */
  accessToken?: string;
}

const whatsappNumbersShape = z
  .array(
    z.strictObject({
      phoneNumberId: z
        .string()
        .regex(/^\d{1,32}$/, { message: 'must be the numeric phone number id from Meta' }),
      tenant: z.string().trim().min(1, { message: 'is required (the tenant that owns this number)' }),
      agent: z
        .string()
        .regex(/^[\w.-]{1,64}$/, { message: 'must be an agent name' })
        .optional(),
      accessToken: z.string().trim().min(1).optional(),
    }),
  )
  .min(1, { message: 'must list at least one number' });

/** WHATSAPP_NUMBERS and the single-number variables as one list; problems name the field. */
function whatsappNumbers(e: z.infer<typeof envSchema>): { numbers: WhatsAppNumber[]; problems: string[] } {
  const numbers: WhatsAppNumber[] = [];
  const problems: string[] = [];
  if (e.WHATSAPP_NUMBERS) {
    let raw: unknown;
    try {
      raw = JSON.parse(e.WHATSAPP_NUMBERS);
    } catch {
      // Never echo the value: it may hold access tokens.
      problems.push(
        'WHATSAPP_NUMBERS is not valid JSON: expected [{"phoneNumberId":"...","tenant":"...","agent":"...","accessToken":"..."}]',
      );
    }
    if (raw !== undefined) {
      const parsed = whatsappNumbersShape.safeParse(raw);
      if (parsed.success) numbers.push(...parsed.data.map((n) => stripUndefined(n)));
      else
        for (const issue of parsed.error.issues)
          problems.push(
            `WHATSAPP_NUMBERS${issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('')} ${issue.message}`,
          );
    }
  }
  if (e.WHATSAPP_PHONE_NUMBER_ID)
    numbers.push({ phoneNumberId: e.WHATSAPP_PHONE_NUMBER_ID, tenant: e.WHATSAPP_TENANT });
  const seen = new Set<string>();
  for (const n of numbers) {
    if (seen.has(n.phoneNumberId))
      problems.push(
        `WHATSAPP_NUMBERS lists the phone number id ${n.phoneNumberId} twice (WHATSAPP_PHONE_NUMBER_ID counts as an entry)`,
      );
    seen.add(n.phoneNumberId);
  }
  if (numbers.length && !(e.WHATSAPP_APP_SECRET && e.WHATSAPP_VERIFY_TOKEN) && e.WHATSAPP_NUMBERS)
    problems.push(
      'WHATSAPP_NUMBERS needs WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN (the webhook it routes)',
    );
  return { numbers, problems };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export interface WebhookConfig {
  secret: string;
  channels: string[];
  tenant: string;
  toleranceSeconds: number;
  /** Replies to these channels are POSTed here, signed with the same secret. */
  callbackUrl: string | undefined;
}

export interface ChannelsConfig {
  whatsapp: WhatsAppConfig | undefined;
  webhook: WebhookConfig | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** What a project's threadline.config.ts declares, which relaxes the variables that only pair with it. */
export interface LoadConfigOptions {
  /** The config file lists channels: WEBHOOK_CHANNELS and WHATSAPP_PHONE_NUMBER_ID may come from it. */
  channelsDeclared?: { whatsapp?: boolean; webhook?: boolean };
}

export function loadConfig(env: Record<string, string | undefined>, options: LoadConfigOptions = {}): Config {
  // Empty strings mean "unset": `FOO= npm run dev` must not fail validation.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.');
        // Never echo values: a malformed variable may hold a secret.
        return `${name} ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const wa = whatsappNumbers(e);
  const routing = parseRouting(e.AGENT_ROUTING);
  const problems = [
    ...channelProblems(e, options.channelsDeclared ?? {}),
    ...wa.problems,
    ...temporalTlsProblems(e),
    ...telemetryProblems(e),
    ...routing.problems,
  ];
  if (problems.length || !routing.value) throw new ConfigError(problems);
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      apiKey: e.TEMPORAL_API_KEY,
      cliPath: e.TEMPORAL_CLI_PATH,
      uiUrl: e.TEMPORAL_UI_URL?.replace(/\/+$/, ''),
      shape: e.THREADLINE_TEMPORAL,
      devPort: e.TEMPORAL_PORT,
      devUiPort: e.TEMPORAL_UI_PORT,
      tls:
        e.TEMPORAL_TLS_CERT_PATH && e.TEMPORAL_TLS_KEY_PATH
          ? {
              certPath: e.TEMPORAL_TLS_CERT_PATH,
              keyPath: e.TEMPORAL_TLS_KEY_PATH,
              caPath: e.TEMPORAL_TLS_CA_PATH,
              serverName: e.TEMPORAL_TLS_SERVER_NAME,
            }
          : undefined,
    },
    workerShutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_MS,
    workerTuning: {
      maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
      maxConcurrentActivityTaskExecutions: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTaskExecutions: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxConcurrentWorkflowTaskPolls: e.WORKER_MAX_WORKFLOW_TASK_POLLS,
      nonStickyToStickyPollRatio: e.WORKER_NONSTICKY_POLL_RATIO,
    },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, embeddedPort: e.EMBEDDED_POSTGRES_PORT },
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
      emulatorPort: e.EMULATOR_PORT,
    },
    api: {
      port: e.PORT,
      host: e.HOST,
      replyWaitMs: e.REPLY_WAIT_MS,
      acceptWaitMs: e.MESSAGE_ACCEPT_WAIT_MS,
      handoverLimit: e.MESSAGE_HANDOVER_LIMIT,
      bodyLimitBytes: e.API_BODY_LIMIT_BYTES,
      adminApiKey: e.ADMIN_API_KEY,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
      metricsToken: e.METRICS_TOKEN,
      corsOrigins: e.CORS_ORIGINS ?? [],
      eventsPollMs: e.EVENTS_POLL_MS,
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    },
    channels: {
      whatsapp:
        e.WHATSAPP_APP_SECRET && e.WHATSAPP_VERIFY_TOKEN
          ? {
              appSecret: e.WHATSAPP_APP_SECRET,
              verifyToken: e.WHATSAPP_VERIFY_TOKEN,
              accessToken: e.WHATSAPP_ACCESS_TOKEN,
              phoneNumberId: e.WHATSAPP_PHONE_NUMBER_ID,
              apiBaseUrl: e.WHATSAPP_API_BASE_URL.replace(/\/+$/, ''),
              tenant: e.WHATSAPP_TENANT,
              numbers: wa.numbers,
            }
          : undefined,
      webhook: e.WEBHOOK_SECRET
        ? {
            secret: e.WEBHOOK_SECRET,
            channels: e.WEBHOOK_CHANNELS ?? [],
            tenant: e.WEBHOOK_TENANT,
            toleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
            callbackUrl: e.CALLBACK_URL,
          }
        : undefined,
    },
    media: {
      ...DEFAULT_MEDIA_LIMITS,
      maxBytes: {
        image: e.MEDIA_MAX_IMAGE_BYTES,
        document: e.MEDIA_MAX_DOCUMENT_BYTES,
        audio: e.MEDIA_MAX_AUDIO_BYTES,
      },
      mimeTypes: {
        image: lowered(e.MEDIA_IMAGE_TYPES) ?? DEFAULT_MEDIA_LIMITS.mimeTypes.image,
        document: lowered(e.MEDIA_DOCUMENT_TYPES) ?? DEFAULT_MEDIA_LIMITS.mimeTypes.document,
        audio: lowered(e.MEDIA_AUDIO_TYPES) ?? DEFAULT_MEDIA_LIMITS.mimeTypes.audio,
      },
      maxAttempts: e.MEDIA_FETCH_ATTEMPTS,
      downloadTimeoutMs: e.MEDIA_DOWNLOAD_TIMEOUT_MS,
      maxTotalMs: e.MEDIA_FETCH_MAX_TOTAL_MS,
      transcriptionModel: e.OPENAI_TRANSCRIPTION_MODEL,
    },
    workerMetricsAddress: e.WORKER_METRICS_ADDRESS,
    telemetry: {
      otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, ''),
      otlpHeaders: otlpHeaders(e.OTEL_EXPORTER_OTLP_HEADERS),
      serviceName: e.OTEL_SERVICE_NAME,
    },
    dataDir: e.THREADLINE_DATA_DIR,
    routing: routing.value,
    logLevel: e.LOG_LEVEL,
  };
}

/** AGENT_ROUTING is JSON in the shape of `routingSchema`; its problems name the field at fault. */
function parseRouting(raw: string | undefined): { value?: Routing; problems: string[] } {
  if (raw === undefined) return { value: { defaultAgent: DEFAULT_AGENT }, problems: [] };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return {
      problems: [
        'AGENT_ROUTING is not JSON: expected e.g. {"rules":[{"tenant":"acme","agent":"concierge"}]}',
      ],
    };
  }
  const parsed = routingSchema.safeParse(json);
  if (!parsed.success)
    return {
      problems: parsed.error.issues.map((i) => `AGENT_ROUTING.${i.path.join('.') || '(root)'} ${i.message}`),
    };
  return { value: toRouting(parsed.data, DEFAULT_AGENT), problems: [] };
}

function lowered(types: string[] | undefined): string[] | undefined {
  return types?.length ? types.map((t) => t.toLowerCase()) : undefined;
}

/** Channel variables only make sense together; half a configuration is a mistake worth stopping for. */
function channelProblems(
  e: z.infer<typeof envSchema>,
  declared: NonNullable<LoadConfigOptions['channelsDeclared']>,
): string[] {
  const problems: string[] = [];
  if (Boolean(e.WHATSAPP_APP_SECRET) !== Boolean(e.WHATSAPP_VERIFY_TOKEN))
    problems.push(
      'WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN must be set together (both enable the webhook)',
    );
  // With numbers listed elsewhere, WHATSAPP_ACCESS_TOKEN alone is the token their entries share.
  if (
    !e.WHATSAPP_NUMBERS &&
    !declared.whatsapp &&
    Boolean(e.WHATSAPP_ACCESS_TOKEN) !== Boolean(e.WHATSAPP_PHONE_NUMBER_ID)
  )
    problems.push(
      'WHATSAPP_ACCESS_TOKEN and WHATSAPP_PHONE_NUMBER_ID must be set together (both enable replies)',
    );
  if (e.WEBHOOK_SECRET && !e.WEBHOOK_CHANNELS?.length && !declared.webhook)
    problems.push(
      'WEBHOOK_CHANNELS must name the channels the signed webhook serves, e.g. WEBHOOK_CHANNELS=sms,telegram',
    );
  if (e.WEBHOOK_CHANNELS?.includes('whatsapp'))
    problems.push('WEBHOOK_CHANNELS must not include whatsapp: it has its own webhook');
  if ((e.WEBHOOK_CHANNELS?.length || e.CALLBACK_URL) && !e.WEBHOOK_SECRET)
    problems.push(
      'WEBHOOK_SECRET is required with WEBHOOK_CHANNELS or CALLBACK_URL (it signs both directions)',
    );
  return problems;
}

/** mTLS needs the certificate and its key together; Temporal Cloud takes either mTLS or an API key. */
function temporalTlsProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  if (Boolean(e.TEMPORAL_TLS_CERT_PATH) !== Boolean(e.TEMPORAL_TLS_KEY_PATH)) {
    problems.push(
      'TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together (the client certificate and its key)',
    );
  }
  if (e.TEMPORAL_TLS_CERT_PATH && e.TEMPORAL_API_KEY) {
    problems.push(
      'TEMPORAL_API_KEY and TEMPORAL_TLS_CERT_PATH are alternatives: set one way to authenticate to Temporal',
    );
  }
  if ((e.TEMPORAL_TLS_CA_PATH || e.TEMPORAL_TLS_SERVER_NAME) && !e.TEMPORAL_TLS_CERT_PATH) {
    problems.push('TEMPORAL_TLS_CA_PATH and TEMPORAL_TLS_SERVER_NAME only apply with TEMPORAL_TLS_CERT_PATH');
  }
  return problems;
}

/** `key=value,key2=value2` (values may be percent-encoded, as the OpenTelemetry spec allows). */
function otlpHeaders(raw: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of raw?.split(',') ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const value = pair.slice(at + 1).trim();
    headers[pair.slice(0, at).trim()] = /%[0-9a-f]{2}/i.test(value) ? safeDecode(value) : value;
  }
  return headers;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function telemetryProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  const pairs = e.OTEL_EXPORTER_OTLP_HEADERS?.split(',').filter((p) => p.trim() !== '') ?? [];
  // Never echo the pair: it usually is a vendor's API key.
  if (pairs.some((p) => p.indexOf('=') <= 0))
    problems.push(
      'OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs separated by commas, e.g. x-api-key=abc',
    );
  if (e.OTEL_EXPORTER_OTLP_HEADERS && !e.OTEL_EXPORTER_OTLP_ENDPOINT)
    problems.push(
      'OTEL_EXPORTER_OTLP_HEADERS only applies with OTEL_EXPORTER_OTLP_ENDPOINT (where traces go)',
    );
  return problems;
}
