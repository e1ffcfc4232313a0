import { readdirSync, readFileSync } from 'node:fs';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';

/**
 * Recorded histories of every shipped workflow version, replayed against today's workflow code. A
 * change that would break running conversations (a reordered activity, a removed timer) fails here
 * instead of in production; make such changes with `patched()`. Record with RECORD_HISTORIES=1.
 */
// Each replay starts and stops a worker, logged at INFO: noise in test output. Warnings still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

const dir = new URL('../fixtures/histories/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('replay of recorded histories', () => {
  it('has recordings to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const recording = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { history: string };
    const history = temporal.api.history.v1.History.decode(Buffer.from(recording.history, 'base64'));
    await Worker.runReplayHistory(
      { workflowBundle: { code: readFileSync(inject('workflowBundlePath'), 'utf8') } },
      history,
      file.replace(/\.json$/, ''),
    );
  });
});
