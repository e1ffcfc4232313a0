import { spawnSync } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { isRetryAfterClose } from '../../drills/lateErrors.js';

const script = new URL('./fixtures/closedChannel.ts', import.meta.url).pathname;
const run = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', script, inject('temporalAddress'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });

describe('a drill that closes its Temporal connection while a call waits to retry', () => {
  it('crashes without the filter, lives on with it (the late retry counted)', () => {
    const bare = run();
    expect(bare.status).toBe(1);
    expect(bare.stderr).toContain('Channel has been shut down');
    const absorbed = run('--absorb');
    expect(absorbed.stderr).not.toContain('Channel has been shut down');
    expect(absorbed.status).toBe(0);
    expect(absorbed.stdout).toMatch(/survived [1-9]/);
  });

  it('absorbs only that error from the retry timer', () => {
    const late = new Error('Channel has been shut down');
    late.stack = `Error: Channel has been shut down\n    at Timeout.retry (node_modules/@temporalio/client/src/grpc-retry.ts:182:28)`;
    expect(isRetryAfterClose(late)).toBe(true);
    expect(isRetryAfterClose(new Error('Channel has been shut down'))).toBe(false);
    expect(isRetryAfterClose(new Error('boom'))).toBe(false);
  });
});
