import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The lint rules that keep workflow code deterministic are a safety net only if they fire: lint a
 * probe file placed in src/workflows (type-aware rules need a real file) and check each rule.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));

async function lintWorkflowSource(source: string): Promise<string[]> {
  const file = `${root}src/workflows/lint-probe-${randomBytes(4).toString('hex')}.ts`;
  writeFileSync(file, source);
  try {
    const [result] = await new ESLint({ cwd: root }).lintFiles([file]);
    return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
  } finally {
    rmSync(file, { force: true });
  }
}

describe('workflow determinism lint', () => {
  it('rejects Node built-ins, the clock, randomness and value imports of activities', async () => {
    const messages = await lintWorkflowSource(
      [
        "import { readFileSync } from 'node:fs';",
        "import { createActivities } from '../activities/index.js';",
        'export function bad(): unknown {',
        '  const now = Date.now();',
        '  const when = new Date();',
        '  const r = Math.random();',
        '  const env = process.env.X;',
        '  return [readFileSync, createActivities, now, when, r, env];',
        '}',
        '',
      ].join('\n'),
    );
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^no-restricted-imports: .*deterministic sandbox/),
        expect.stringMatching(/^no-restricted-syntax: Workflows import activity modules as types only/),
        expect.stringMatching(/^no-restricted-properties: .*Date\.now/),
        expect.stringMatching(/^no-restricted-syntax: new Date\(\) reads the clock/),
        expect.stringMatching(/^no-restricted-properties: .*Math\.random/),
        expect.stringMatching(/^no-restricted-globals: .*process/),
      ]),
    );
  });

  it('rejects floating promises', async () => {
    const messages = await lintWorkflowSource(
      'export async function f(): Promise<void> {}\nexport function g(): void {\n  f();\n}\n',
    );
    expect(messages).toEqual([expect.stringMatching(/^@typescript-eslint\/no-floating-promises/)]);
  });

  it('accepts type-only imports of activities', async () => {
    const messages = await lintWorkflowSource(
      "import type { createActivities } from '../activities/index.js';\nexport type A = ReturnType<typeof createActivities>;\n",
    );
    expect(messages).toEqual([]);
  });
});
