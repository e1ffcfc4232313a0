import { describe, expect, it } from 'vitest';
import type { Results } from '../../bench/report.js';
import { HAND_WRITTEN, markdown, withHandWritten } from '../../bench/report.js';
import { targetRows, targetTable } from '../../bench/targets.js';

const p = (p50: number) => ({ n: 10, p50, p95: p50 * 1.2, p99: p50 * 1.5, mean: p50 });
const entry = <R>(result: R, quick = false) => ({
  measuredAt: '2026-12-02T03:00:00.000Z',
  quick,
  seconds: 1,
  load: [1, 1] as [number, number],
  result,
});
const run = (conversations: number, turnsPerSecond: number, first: number, later: number, lost = 0) => ({
  conversations,
  turnsPerConversation: 2,
  messages: conversations * 2,
  seconds: (conversations * 2) / turnsPerSecond,
  turnsPerSecond,
  latency: p(later),
  firstTurn: p(first),
  laterTurns: p(later),
  lost,
  duplicated: 0,
  misrouted: 0,
});

function results(quick = false): Results {
  return {
    machine: { cpus: 2, cpuModel: 'x', memoryGb: 8, node: 'v20', platform: 'linux' },
    updatedAt: '2026-12-02T03:00:00.000Z',
    benchmarks: {
      'turn-overhead': entry(
        {
          samples: 10,
          conversations: 2,
          api: p(60),
          direct: p(6),
          floor: p(100),
          plain: p(40),
          slowModel: { samples: 3, latencyMs: 1000, api: p(2100), direct: p(2000) },
          breakdown: {
            totalMs: 50,
            activities: 0,
            activityRunMs: 0,
            activityDispatchMs: 0,
            workflowTasks: 1,
            workflowTaskRunMs: 40,
            workflowTaskDispatchMs: 10,
          },
          ratios: {
            apiToDirect: { p50: 10, p95: 10, p99: 10 },
            apiToFloor: { p50: 0.6, p95: 0.6, p99: 0.6 },
          },
        },
        quick,
      ),
      throughput: entry({ runs: [run(100, 120, 1000, 900), run(1000, 50, 30_000, 10_000, 1)] }, quick),
      'worker-memory': entry(
        {
          conversations: 1000,
          samples: [
            { open: 0, rssMb: 150 },
            { open: 1000, rssMb: 290 },
          ],
          peakRssMb: 300,
          perConversationKb: 140,
          maxCachedWorkflows: 200,
        },
        quick,
      ),
    },
  };
}

describe('issue #12 targets', () => {
  it('judges each measured row against its target and leaves unmeasured rows open', () => {
    const rows = Object.fromEntries(targetRows(results()).map((r) => [r.metric, r]));
    expect(rows['Sync tool turn (2 model calls, 1 tool) / Temporal floor, p50']).toMatchObject({
      measured: '0.60×',
      met: false,
    });
    expect(rows['Sync turn without tools / floor, p50']).toMatchObject({ measured: '0.40×', met: false });
    expect(rows['Turns/s, 100 conversations, 0 lost']).toMatchObject({ measured: '120.0', met: true });
    // Fast enough would not do: a lost message fails the row.
    expect(rows['Turns/s, 1,000 conversations, 0 lost']!.met).toBe(false);
    expect(rows['Turns/s, 1,000 conversations, 0 lost']!.detail).toContain('1 lost');
    expect(rows['First-turn p50 / later-turn p50 at 1,000']).toMatchObject({ measured: '3.00×', met: false });
    expect(rows['Worker RSS, 1,000 open conversations']).toMatchObject({ measured: '290.0 MB', met: true });
    expect(rows['History events per tool turn']).toMatchObject({ measured: '—', met: undefined });
    expect(rows['Tool turn against a 1 s model: Threadline / direct, p50']!.detail).toContain('5.0%');
  });

  it('never calls a --quick run met or unmet', () => {
    const rows = targetRows(results(true));
    expect(rows.filter((r) => r.measured !== '—').length).toBeGreaterThan(5);
    expect(rows.every((r) => r.met === undefined)).toBe(true);
  });

  it('shows a hand-sized throughput run in the nearest row, named, and leaves it unjudged', () => {
    const r = results();
    r.benchmarks.throughput = entry({ runs: [run(300, 3, 130_000, 50_000)] }, true);
    const rows = Object.fromEntries(targetRows(r).map((x) => [x.metric, x]));
    expect(rows['Turns/s, 1,000 conversations, 0 lost']).toMatchObject({ measured: '3.0', met: undefined });
    expect(rows['First-turn p50 / later-turn p50 at 1,000']!.detail).toContain('300 conversations');
  });

  it('prints the same rows in the terminal and at the top of docs/benchmarks.md', () => {
    const page = markdown(results());
    const terminal = targetTable(targetRows(results()));
    for (const metric of ['Turns/s, 100 conversations, 0 lost', 'Worker RSS, 1,000 open conversations']) {
      expect(page).toContain(`| ${metric} |`);
      expect(terminal).toContain(metric);
    }
    expect(page.indexOf('## Issue #12’s targets')).toBeLessThan(page.indexOf('## Turn overhead'));
  });
});

describe('the hand-written tail of docs/benchmarks.md', () => {
  it('survives a regeneration, and a page without one gets the marker to write under', () => {
    const previous = `# Old generated\n\nold numbers\n\n${HAND_WRITTEN}\n\n## Tracing overhead\n\nmeasured by hand\n`;
    const page = withHandWritten('# Benchmarks\n\nnew numbers\n', previous);
    expect(page).toContain('new numbers');
    expect(page).not.toContain('old numbers');
    expect(page.endsWith(`${HAND_WRITTEN}\n\n## Tracing overhead\n\nmeasured by hand\n`)).toBe(true);
    expect(withHandWritten('# Benchmarks\n', undefined)).toBe(`# Benchmarks\n\n${HAND_WRITTEN}\n`);
  });
});
