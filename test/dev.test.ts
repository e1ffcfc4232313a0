import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './support/ports.js';

/**
 * The README's first quick-start line, as a new user runs it: `npm run dev` on embedded defaults
 * (Temporal dev server, PGlite, the emulator), the printed curl line answered, Ctrl-C stops
 * everything cleanly, and a second start finds the conversation again.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'threadline-dev-'));
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function startDev(
  ports: Record<string, number>,
): Promise<{ output: () => string; stop(): Promise<void> }> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
  };
  // Embedded defaults only: a DATABASE_URL or OPENAI_API_KEY from the caller's shell must not leak in.
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'OPENAI_API_KEY', 'OPENAI_BASE_URL'])
    delete env[name];
  env.THREADLINE_DATA_DIR = dataDir;
  let output = '';
  child = spawn('npm', ['run', 'dev'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 90_000;
  // The banner ends with the API key line; on a slow machine it can arrive in a later chunk than
  // "Threadline is running", and the tests read the key from it.
  while (!/Threadline is running[\s\S]*API key .*\n/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`npm run dev did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const proc = child;
  return {
    output: () => output,
    async stop() {
      // Ctrl-C in a terminal signals the whole process group (npm, tsx, node). npm itself dies of
      // the signal, as in a terminal; what matters is that Threadline shut down and let go of
      // every port (no orphaned Temporal server or embedded Postgres).
      process.kill(-proc.pid!, 'SIGINT');
      const deadline = Date.now() + 30_000;
      while (!(output.includes('Stopped.') && (await allFree(Object.values(ports))))) {
        if (Date.now() > deadline) throw new Error(`npm run dev did not stop cleanly:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

async function allFree(ports: number[]): Promise<boolean> {
  const results = await Promise.all(
    ports.map(
      (port) =>
        new Promise<boolean>((resolve) => {
          const server = createServer();
          server.once('error', () => resolve(false));
          server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
        }),
    ),
  );
  return results.every(Boolean);
}

/** The printed curl line, run by a shell exactly as a user would paste it. */
function runPrintedCurl(output: string): { reply: { text: string; turn: number } } {
  const line = /^\s*(curl -s -X POST .*)$/m.exec(output)?.[1];
  expect(line).toBeDefined();
  return JSON.parse(execFileSync('sh', ['-c', line!], { encoding: 'utf8' })) as {
    reply: { text: string; turn: number };
  };
}

async function ask(
  port: number,
  key: string,
  text: string,
): Promise<{ reply: { text: string; turn: number } }> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/conversations/web/demo-1/messages?wait=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ text }),
  });
  expect(res.status).toBe(200);
  return res.json() as Promise<{ reply: { text: string; turn: number } }>;
}

describe('npm run dev', () => {
  it('answers the first message, stops cleanly, and finds its data again', { timeout: 240_000 }, async () => {
    const ports = {
      PORT: await freePort(),
      TEMPORAL_PORT: await freePort(),
      TEMPORAL_UI_PORT: await freePort(),
      EMULATOR_PORT: await freePort(),
      EMBEDDED_POSTGRES_PORT: await freePort(),
    };
    const first = await startDev(ports);
    expect(first.output()).toContain('bundled emulator');
    expect(first.output()).toContain(`Web UI http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`);
    expect(first.output()).toMatch(
      /curl -s -X POST 'http:\/\/127\.0\.0\.1:\d+\/v1\/conversations\/web\/demo-1\/messages\?wait=true' -H 'authorization: Bearer tl_/,
    );
    const ui = await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`);
    expect(ui.status).toBe(200);
    // The dev key is stored hashed like any other and kept in the data directory for the next start.
    const key = readFileSync(join(dataDir, 'dev-api-key'), 'utf8').trim();
    expect(first.output()).toContain(key);

    const one = runPrintedCurl(first.output());
    expect(one.reply.text).toContain('You said: "Hello! What can you do?"');
    await first.stop();
    expect(first.output()).toContain('Stopped.');

    const second = await startDev(ports);
    expect(second.output()).toContain(key);
    const two = await ask(ports.PORT, key, 'Do you remember me?');
    expect(two.reply.turn).toBe(2);
    expect(two.reply.text).toContain('[context: 2 user messages; first: "Hello! What can you do?"');
    await second.stop();
  });
});
