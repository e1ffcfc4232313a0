import { readdirSync, readFileSync } from 'node:fs';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleWorkflows } from '../../src/worker.js';

/**
 * Tracing can be turned on or off across a deploy: the bundle with the workflow interceptors
 * replays every recorded history (recorded without them), and test/workflows/replay.test.ts
 * replays the one recorded with them (v4-otel-traced-turns) on the suite's bundle without them.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });

const dir = new URL('../fixtures/histories/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
let bundle: WorkflowBundle;

beforeAll(async () => {
  bundle = await bundleWorkflows({ tracing: true });
});

describe('replay with the tracing interceptors in the bundle', () => {
  it('every recorded history replays without nondeterminism', async () => {
    const histories = files.map((file) => {
      const recording = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as { history: string };
      const history = temporal.api.history.v1.History.decode(Buffer.from(recording.history, 'base64'));
      return { workflowId: file.replace(/\.json$/, ''), history };
    });
    const failed: string[] = [];
    let replayed = 0;
    // One replay worker for all of them: a worker per history costs seconds each.
    for await (const result of Worker.runReplayHistories(
      // Workflow spans are not exported while replaying; the sink is registered as a worker would.
      { workflowBundle: bundle, sinks: { exporter: { export: { fn: () => {} } } } },
      histories,
    )) {
      replayed += 1;
      if (result.error) failed.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failed).toEqual([]);
    expect(replayed).toBe(files.length);
    expect(files).toContain('v4-otel-traced-turns.json');
  });
});
