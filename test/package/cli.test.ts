import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The threadline command merges the config file's channels with the environment's before anything
 * starts (test/package/config.test.ts covers the merge itself; this, that the command applies it).
 */

const repo = fileURLToPath(new URL('../..', import.meta.url));
const project = mkdtempSync(join(tmpdir(), 'threadline-cli-'));

beforeAll(() => {
  symlinkSync(join(repo, 'node_modules'), join(project, 'node_modules'));
  writeFileSync(
    join(project, 'threadline.config.ts'),
    `import { defineAgent, defineConfig } from ${JSON.stringify(join(repo, 'src/public/index.ts'))};
export default defineConfig({
  agents: [defineAgent({ name: 'front-desk', model: 'gpt-5-mini', instructions: 'Be brief.' })],
  channels: { whatsapp: { numbers: [{ phoneNumberId: '1001', tenant: 'seaside' }] } },
});
`,
  );
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

function threadline(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/threadline.ts'), ...args], {
    cwd: project,
    env: {
      PATH: process.env.PATH!,
      HOME: process.env.HOME!,
      DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db',
      ...env,
    },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe("the config file's channels in the command", () => {
  it('stop the start when their secrets are missing, or the environment gives a number another tenant', async () => {
    const secrets = {
      WHATSAPP_APP_SECRET: 'app-secret-0123456789',
      WHATSAPP_VERIFY_TOKEN: 'verify-token-0123456789',
    };
    const [missing, conflict] = await Promise.all([
      threadline(['api'], {}),
      threadline(['worker'], {
        ...secrets,
        WHATSAPP_NUMBERS: JSON.stringify([{ phoneNumberId: '1001', tenant: 'globex' }]),
      }),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.output.trim()).toBe(
      'threadline.config.ts: channels.whatsapp needs WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN in the environment (secrets stay out of the config file)',
    );
    expect(conflict.code).toBe(1);
    expect(conflict.output.trim()).toBe(
      'threadline.config.ts: channels.whatsapp.numbers[0] gives 1001 to the tenant "seaside", the environment (WHATSAPP_NUMBERS or WHATSAPP_PHONE_NUMBER_ID with WHATSAPP_TENANT) to "globex": declare its tenant in one place',
    );
  }, 60_000);
});
