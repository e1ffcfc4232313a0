import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryOf, startHarness } from './support/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'emulator-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('state file', () => {
  it('keeps responses, conversations and the clock offset across a restart', async () => {
    const stateFile = join(dir, 'nested', 'state.json');
    const first = await startHarness({ stateFile });
    const r = await first.client.responses.create({ model: 'm', input: 'remember me' });
    const conv = await first.client.conversations.create({ metadata: { a: 'b' } });
    first.emulator.clock.advance(86_400_000);
    await first.emulator.close();
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ version: 1 });

    const second = await startHarness({ stateFile });
    try {
      expect((await second.client.responses.retrieve(r.id)).id).toBe(r.id);
      expect((await second.client.conversations.retrieve(conv.id)).metadata).toEqual({ a: 'b' });
      const next = await second.client.responses.create({
        model: 'm',
        input: 'again',
        previous_response_id: r.id,
      });
      expect(memoryOf(next.output_text)).toMatchObject({ users: 2, first: 'remember me' });
      expect(second.emulator.clock.now() - Date.now()).toBeGreaterThan(86_000_000);
    } finally {
      await second.emulator.close();
    }
  });
});
