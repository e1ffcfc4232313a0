import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createScratchDatabase, type ScratchDatabase } from '../support/database.js';
import { freePort } from '../support/ports.js';

/**
 * `THREADLINE_TEMPORAL=server npm run dev`: the same quick start on the production shape (Temporal
 * Server on the PostgreSQL in DATABASE_URL), its printed curl line answered, Ctrl-C stopping the
 * server it started, and a second start finding the conversation in Temporal's PostgreSQL.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'threadline-devshape-'));
let child: ChildProcess | undefined;
let db: ScratchDatabase | undefined;
afterAll(async () => {
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  await db?.drop();
});

function startDev(env: Record<string, string | undefined>): {
  output: () => string;
  done: Promise<number | null>;
} {
  let output = '';
  child = spawn('npm', ['run', 'dev'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  return { output: () => output, done };
}

async function until(check: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(what());
    await new Promise((r) => setTimeout(r, 200));
  }
}

function baseEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env, THREADLINE_DATA_DIR: dataDir };
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'OPENAI_API_KEY', 'OPENAI_BASE_URL'])
    delete env[name];
  return env;
}

describe('THREADLINE_TEMPORAL=server npm run dev', () => {
  it('stops at once with a clear error without a DATABASE_URL for Temporal', async () => {
    const dev = startDev({ ...baseEnv(), THREADLINE_TEMPORAL: 'server', PORT: String(await freePort()) });
    await dev.done;
    expect(dev.output()).toContain(
      'THREADLINE_TEMPORAL=server runs Temporal on PostgreSQL: set DATABASE_URL',
    );
  }, 60_000);

  it('answers on Temporal Server, stops it on Ctrl-C, and keeps the conversation across a restart', async () => {
    db = await createScratchDatabase(inject('postgresAdminUrl'), { prefix: 'tl_devshape', poolSize: 1 });
    const ports = {
      PORT: await freePort(),
      TEMPORAL_PORT: await freePort(),
      EMULATOR_PORT: await freePort(),
    };
    const env = {
      ...baseEnv(),
      ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
      THREADLINE_TEMPORAL: 'server',
      DATABASE_URL: db.url,
    };
    const run = async (text: string | undefined) => {
      const dev = startDev(env);
      await until(
        () => dev.output().includes('Threadline is running') || child!.exitCode !== null,
        () => `npm run dev did not come up:\n${dev.output()}`,
        120_000,
      );
      expect(dev.output(), dev.output()).toContain(
        `Starting Temporal Server v1.29.1 on PostgreSQL, on :${ports.TEMPORAL_PORT}`,
      );
      expect(dev.output()).toContain(`Temporal       127.0.0.1:${ports.TEMPORAL_PORT}`);
      let body: { reply: { text: string; turn: number } };
      if (text === undefined) {
        const line = /^\s*(curl -s -X POST .*)$/m.exec(dev.output())![1]!;
        body = JSON.parse(execFileSync('sh', ['-c', line], { encoding: 'utf8' })) as typeof body;
      } else {
        const key = readFileSync(join(dataDir, 'dev-api-key'), 'utf8').trim();
        const res = await fetch(
          `http://127.0.0.1:${ports.PORT}/v1/conversations/web/demo-1/messages?wait=true`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
            body: JSON.stringify({ text }),
          },
        );
        body = (await res.json()) as typeof body;
      }
      process.kill(-child!.pid!, 'SIGINT');
      await until(
        () => dev.output().includes('Stopped.'),
        () => `npm run dev did not stop:\n${dev.output()}`,
        30_000,
      );
      expect(dev.output()).toMatch(/Temporal Server\.\.\. done/);
      return body;
    };
    const one = await run(undefined);
    expect(one.reply.text).toContain('You said: "Hello! What can you do?"');
    const two = await run('Do you remember me?');
    expect(two.reply?.turn, JSON.stringify(two)).toBe(2);
  }, 300_000);
});
