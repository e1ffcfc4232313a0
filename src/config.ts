import { z } from 'zod';

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

const envSchema = z.object({
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: z.string().trim().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default('threadline'),
  TEMPORAL_API_KEY: optionalString,
  TEMPORAL_CLI_PATH: optionalString,
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
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  temporal: {
    /** Unset means "start an embedded dev server" for `npm run dev`; the worker and API default to localhost:7233. */
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    apiKey: string | undefined;
    cliPath: string | undefined;
    devPort: number;
    devUiPort: number;
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
  api: { port: number; host: string; replyWaitMs: number };
  dataDir: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: Record<string, string | undefined>): Config {
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
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      apiKey: e.TEMPORAL_API_KEY,
      cliPath: e.TEMPORAL_CLI_PATH,
      devPort: e.TEMPORAL_PORT,
      devUiPort: e.TEMPORAL_UI_PORT,
    },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, embeddedPort: e.EMBEDDED_POSTGRES_PORT },
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
      emulatorPort: e.EMULATOR_PORT,
    },
    api: { port: e.PORT, host: e.HOST, replyWaitMs: e.REPLY_WAIT_MS },
    dataDir: e.THREADLINE_DATA_DIR,
    logLevel: e.LOG_LEVEL,
  };
}
