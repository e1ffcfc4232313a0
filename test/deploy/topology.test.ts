import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { createPool } from '../../src/store/pool.js';
import { resolveTemporalCli } from '../../src/temporal/cli.js';
import {
  freePorts,
  resolveTemporalServer,
  startTemporalServer,
  type TemporalServer,
} from '../../src/temporal/server.js';
import { startPostgresCluster, type PostgresCluster } from '../support/postgres.js';

/**
 * docker-compose.yml run for real, as native processes: every service's command, environment and
 * health check is read from the compose file and executed here, with the compose hostnames mapped
 * to loopback ports and `${VAR}` filled from the .env an operator would write. Two workers and two
 * API instances (what `--scale` gives), on their own PostgreSQL, Temporal on another.
 *
 * Not run: temporal-ui (a web UI; nothing depends on it) and the `build:` step. The image runs
 * `node dist/<module>.js`; here the same module runs from its source (`node --import tsx
 * src/<module>.ts`), so the test needs no build (test/package/example.test.ts runs dist/ itself).
 */
const root = fileURLToPath(new URL('../..', import.meta.url));

interface Service {
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  healthcheck?: { test: string[]; start_period?: string };
}
const compose = parse(readFileSync(`${root}docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const svc = (name: string) => compose.services[name]!;

/** What the operator's .env holds (compose reads it for `${...}` and, through env_file, the app). */
const dotenv: Record<string, string> = {
  POSTGRES_PASSWORD: `app-${randomBytes(6).toString('hex')}`,
  TEMPORAL_POSTGRES_PASSWORD: `tmp-${randomBytes(6).toString('hex')}`,
  ADMIN_API_KEY: randomBytes(24).toString('hex'),
  OPENAI_API_KEY: 'sk-topology-test',
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_MINUTE: '10',
};

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?error}`, and `$$` for a literal `$`. */
function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}/g,
    (whole, name?: string, op?: string, arg?: string) => {
      if (whole === '$$') return '$';
      const v = vars[name!];
      if (v !== undefined && v !== '') return v;
      if (op === '?') throw new Error(`compose would refuse to start: ${name} is unset (${arg})`);
      return op === '-' ? arg! : '';
    },
  );
}

/** Compose's service DNS names, and container ports, to where the native processes listen. */
let hosts: Record<string, string> = {};
function localize(value: string): string {
  let out = value;
  for (const [from, to] of Object.entries(hosts).sort((a, b) => b[0].length - a[0].length))
    out = out.replace(new RegExp(`(?<![\\w.-])${from}(?![\\w-])`, 'g'), to);
  return out;
}

function serviceEnv(name: string, overrides: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(svc(name).environment ?? {}).map(([k, v]) => [
      k,
      localize(interpolate(String(v), dotenv)),
    ]),
  );
  return { ...env, ...overrides };
}

/** Runs a compose health check (`CMD` or `CMD-SHELL`) as compose would, once. */
function healthy(
  name: string,
  rewrite: (s: string) => string = localize,
  env: Record<string, string> = {},
): boolean {
  const [kind, ...rest] = svc(name).healthcheck!.test;
  const args = rest.map((a) => rewrite(a));
  const out =
    kind === 'CMD-SHELL'
      ? spawnSync('sh', ['-c', args.join(' ')], {
          env: { ...process.env, ...env },
          encoding: 'utf8',
          timeout: 10_000,
        })
      : spawnSync(args[0]!, args.slice(1), {
          env: { ...process.env, ...env },
          encoding: 'utf8',
          timeout: 10_000,
        });
  return out.status === 0;
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface AppProcess {
  name: string;
  child: ChildProcess;
  port: number;
  output: () => string;
  healthy: () => boolean;
}

/** `node dist/x.js` -> `node --import tsx src/x.ts`: the compiled module's source. */
function fromSource(command: string[]): string[] {
  const [node, script, ...rest] = command;
  if (node !== 'node' || !script?.startsWith('dist/')) return command;
  return [node, '--import', 'tsx', script.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'), ...rest];
}

const processes: AppProcess[] = [];
function startApp(service: 'worker' | 'api', instance: number, port: number, emulator: Emulator): AppProcess {
  const s = svc(service);
  const containerPort = service === 'worker' ? '9464' : '3000';
  // Each container has its own network namespace; here each instance gets its own port.
  const ownPort = (v: string) => localize(v).replaceAll(`:${containerPort}`, `:${port}`);
  const env = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME!,
    // env_file: .env (OPENAI_BASE_URL points at the emulator, as an operator points it at a proxy)
    ...dotenv,
    OPENAI_BASE_URL: emulator.baseUrl,
    ...Object.fromEntries(Object.entries(serviceEnv(service)).map(([k, v]) => [k, ownPort(v)])),
    ...(service === 'api' ? { PORT: String(port) } : {}),
  };
  const [cmd, ...args] = fromSource(s.command!);
  const child = spawn(cmd!, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const p: AppProcess = {
    name: `${service}-${instance}`,
    child,
    port,
    output: () => output,
    healthy: () => healthy(service, ownPort),
  };
  processes.push(p);
  return p;
}

let appPg: PostgresCluster;
let temporalPg: PostgresCluster;
let temporal: TemporalServer;
let emulator: Emulator;
let cliDir: string;
let workers: AppProcess[];
let apis: AppProcess[];

beforeAll(async () => {
  const [cli, binaries, app, tpg, emu] = await Promise.all([
    resolveTemporalCli({
      explicitPath: process.env.TEMPORAL_CLI_PATH,
      env: process.env,
      allowSdkDownload: false,
    }),
    resolveTemporalServer({ env: process.env, onProgress: console.log }),
    startPostgresCluster(),
    startPostgresCluster(),
    startEmulator(),
  ]);
  [appPg, temporalPg, emulator] = [app, tpg, emu];
  if (cli.kind !== 'path') throw new Error('the temporal-setup job needs the Temporal CLI binary');
  cliDir = dirname(cli.path);
  const appPort = new URL(app.url).port;
  const temporalPgPort = new URL(tpg.url).port;
  const [temporalPort, ...ports] = await freePorts(5);

  hosts = {
    'postgres:5432': `127.0.0.1:${appPort}`,
    'temporal-postgres': '127.0.0.1',
    'temporal:7233': `127.0.0.1:${temporalPort}`,
  };

  // postgres / temporal-postgres: what the postgres image's entrypoint does with POSTGRES_USER,
  // POSTGRES_PASSWORD and POSTGRES_DB (the database defaults to the user's name).
  for (const [name, cluster] of [
    ['postgres', app],
    ['temporal-postgres', tpg],
  ] as const) {
    const env = serviceEnv(name);
    const admin = createPool(cluster.url, 1);
    await admin.query(`CREATE ROLE ${env.POSTGRES_USER} LOGIN CREATEDB PASSWORD '${env.POSTGRES_PASSWORD}'`);
    await admin.query(`CREATE DATABASE ${env.POSTGRES_DB ?? env.POSTGRES_USER} OWNER ${env.POSTGRES_USER}`);
    await admin.end();
    const port = new URL(cluster.url).port;
    expect(
      healthy(name, (s) => s, { PGHOST: '127.0.0.1', PGPORT: port }),
      `${name} healthcheck`,
    ).toBe(true);
  }

  // temporal (auto-setup): schema on temporal-postgres with the service's DB settings, then all services.
  const t = serviceEnv('temporal', { DB_PORT: temporalPgPort });
  expect(t.DB).toBe('postgres12');
  temporal = await startTemporalServer({
    binaries,
    postgresUrl: `postgres://${t.POSTGRES_USER}:${t.POSTGRES_PWD}@${t.POSTGRES_SEEDS}:${t.DB_PORT}/postgres`,
    databasePrefix: 'temporal',
    port: temporalPort!,
  });
  const withCli = { PATH: `${cliDir}:${process.env.PATH}` };
  await until('the temporal healthcheck', () => healthy('temporal', localize, withCli));

  // temporal-setup: its command, verbatim through sh -c, as the admin-tools image runs it.
  const setup = svc('temporal-setup');
  const script = interpolate(setup.command![0]!, dotenv);
  const ran = spawnSync(setup.entrypoint![0]!, [...setup.entrypoint!.slice(1), script], {
    env: { ...process.env, ...withCli, ...serviceEnv('temporal-setup') },
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(ran.status, ran.stderr).toBe(0);

  // worker and api, two of each (`docker compose up --scale worker=2 --scale api=2`).
  workers = [startApp('worker', 1, ports[0]!, emu), startApp('worker', 2, ports[1]!, emu)];
  apis = [startApp('api', 1, ports[2]!, emu), startApp('api', 2, ports[3]!, emu)];
  for (const p of [...workers, ...apis]) {
    await until(
      `${p.name} healthcheck`,
      () => {
        if (p.child.exitCode !== null) throw new Error(`${p.name} exited:\n${p.output()}`);
        return p.healthy();
      },
      90_000,
    );
  }
}, 300_000);

afterAll(async () => {
  for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await Promise.all(
    processes.map((p) =>
      p.child.exitCode !== null || p.child.signalCode !== null
        ? undefined
        : new Promise((r) => {
            const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
            p.child.once('exit', () => r(clearTimeout(t)));
          }),
    ),
  );
  await temporal?.stop();
  await emulator?.close();
  await appPg?.stop();
  await temporalPg?.stop();
}, 60_000);

const api = (i: number) => `http://127.0.0.1:${apis[i]!.port}`;
const headers = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

async function newKey(via: number, tenant: string): Promise<string> {
  const res = await fetch(`${api(via)}/v1/admin/api-keys`, {
    method: 'POST',
    headers: headers(dotenv.ADMIN_API_KEY!),
    body: JSON.stringify({ tenant, name: 'topology' }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { key: string }).key;
}

function send(via: number, key: string, id: string, text: string, wait: boolean) {
  return fetch(`${api(via)}/v1/conversations/web/${id}/messages${wait ? '?wait=true' : ''}`, {
    method: 'POST',
    headers: headers(key),
    body: JSON.stringify({ text }),
  });
}

/** Reads an SSE stream until an event of `type` whose data includes `needle`. */
async function sseUntil(
  via: number,
  key: string,
  id: string,
  type: string,
  needle: string,
  timeoutMs: number,
) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(`${api(via)}/v1/conversations/web/${id}/events`, {
      headers: headers(key),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += value;
      for (const block of buffer.split('\n\n')) {
        if (block.includes(`event: ${type}`) && block.includes(needle)) return block;
      }
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

describe('docker-compose.yml as native processes (2 workers, 2 APIs, Temporal on its PostgreSQL)', () => {
  it("answers one conversation's turns through either API instance, with a key created through the other", async () => {
    const key = await newKey(1, 'acme');
    const id = randomUUID();
    const turns: number[] = [];
    for (const [i, via] of [0, 1, 0].entries()) {
      const res = await send(via, key, id, `turn ${i + 1}`, true);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { reply: { turn: number; text: string } };
      expect(body.reply.text).toContain(`turn ${i + 1}`);
      turns.push(body.reply.turn);
    }
    expect(turns).toEqual([1, 2, 3]);
  });

  it('streams the reply over SSE from the instance that did not take the message', async () => {
    const key = await newKey(0, 'acme');
    const id = randomUUID();
    expect((await send(0, key, id, 'first', true)).status).toBe(200);
    const streamed = sseUntil(1, key, id, 'reply', 'second through api 1', 30_000);
    expect((await send(0, key, id, 'second through api 1', false)).status).toBe(202);
    expect(await streamed).toMatch(/You said: .*second through api 1/);
  });

  it('finishes a turn on the other worker when the worker running its model call is killed', async () => {
    const key = await newKey(0, 'acme');
    const id = randomUUID();
    emulator.faults.add({ kind: 'latency', latencyMs: 8_000, match: { bodyIncludes: 'kill-the-worker' } });
    const res = await send(1, key, id, 'kill-the-worker', false);
    expect(res.status).toBe(202);
    const { workflowId } = (await res.json()) as { workflowId: string };
    // The worker identity Temporal records for the running attempt is `<pid>@<host>`.
    let victim: AppProcess | undefined;
    await until(
      'the model call to start on a worker',
      async () => {
        const d = await temporal.client.workflow.getHandle(workflowId).describe();
        const identity = d.raw.pendingActivities?.find((a) => a.lastWorkerIdentity)?.lastWorkerIdentity;
        victim = workers.find((w) => identity?.startsWith(`${w.child.pid}@`));
        return victim !== undefined;
      },
      30_000,
    );
    victim!.child.kill('SIGKILL');
    await until('the killed worker to exit', () => victim!.child.signalCode !== null, 10_000);
    // The compose health check notices (compose would restart it); the other worker stays healthy.
    expect(victim!.healthy()).toBe(false);
    const survivor = workers.find((w) => w !== victim)!;
    expect(survivor.healthy()).toBe(true);
    // The heartbeat timeout (10 s) hands the attempt to the surviving worker.
    const reply = await sseUntil(0, key, id, 'reply', 'kill-the-worker', 60_000);
    expect(reply).toMatch(/You said: .*kill-the-worker/);
  }, 90_000);

  it('shares API keys through PostgreSQL; the rate limit is per instance (each allows RATE_LIMIT_PER_MINUTE)', async () => {
    const key = await newKey(0, 'limits');
    const limit = Number(dotenv.RATE_LIMIT_PER_MINUTE);
    const list = (via: number) => fetch(`${api(via)}/v1/conversations`, { headers: headers(key) });
    const statuses = async (via: number, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await list(via)).status);
      return out;
    };
    // One instance's bucket empties after `limit` requests...
    const first = await statuses(0, limit + 1);
    expect(first.slice(0, limit).every((s) => s === 200)).toBe(true);
    expect(first.at(-1)).toBe(429);
    // ...the other instance still has its own: a key gets up to N x the limit behind N instances.
    expect(await statuses(1, limit)).toEqual(Array(limit).fill(200));
    expect((await list(1)).status).toBe(429);
    // A key revoked through one instance is refused by the other at once (keys live in PostgreSQL).
    const other = await newKey(1, 'limits');
    const listed = await fetch(`${api(1)}/v1/admin/api-keys?tenant=limits`, {
      headers: headers(dotenv.ADMIN_API_KEY!),
    });
    const ids = ((await listed.json()) as { data: { id: string }[] }).data.map((k) => k.id);
    expect((await fetch(`${api(0)}/v1/conversations`, { headers: headers(other) })).status).toBe(200);
    for (const keyId of ids) {
      const revoked = await fetch(`${api(1)}/v1/admin/api-keys/${keyId}`, {
        method: 'DELETE',
        headers: headers(dotenv.ADMIN_API_KEY!),
      });
      expect(revoked.status).toBeLessThan(300);
    }
    expect((await fetch(`${api(0)}/v1/conversations`, { headers: headers(other) })).status).toBe(401);
  });
});
