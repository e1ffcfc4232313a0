import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * A process that imports @openai/agents (the API, the CLIs) gets its tracing provider's SIGINT and
 * SIGTERM listeners, which exit the process once tracing has flushed if no other listener is left.
 * A shutdown handler must still run to its end: the API drains its requests, the migrate CLI
 * detaches with exit code 0.
 */
function runWithSignal(signal: NodeJS.Signals) {
  const script = `
    import '@openai/agents';
    import { onShutdownSignal } from './src/shutdownSignal.ts';
    onShutdownSignal(() => setTimeout(() => { console.log('drained'); process.exit(0); }, 500));
    console.log('ready');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (stdout.includes('ready') && !child.killed) child.kill(signal);
  });
  return new Promise<{ code: number | null; stdout: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout })),
  );
}

describe('a shutdown signal in a process that loaded the Agents SDK', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s: the handler runs to its end', async (signal) => {
    const { code, stdout } = await runWithSignal(signal);
    expect(stdout).toContain('drained');
    expect(code).toBe(0);
  });
});
