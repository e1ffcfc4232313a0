import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmulator } from '../../src/emulator/server.js';
import { resolveTemporalCli } from '../../src/temporal/cli.js';
import { startDevServer } from '../../src/temporal/devServer.js';
import { bundleWorkflows } from '../../src/worker.js';
import { startPostgresCluster } from './postgres.js';
import { freePort } from './ports.js';

/**
 * Once per `npm test`: a real Temporal dev server, a real PostgreSQL server (a throwaway cluster,
 * or DATABASE_URL), the OpenAI emulator, and the workflow bundle. Test files reach them through
 * `inject(...)`; everything is torn down even when tests fail.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    postgresAdminUrl: string;
    emulatorBaseUrl: string;
    emulatorOrigin: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cleanups: (() => Promise<void>)[] = [];
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => console.error(err));
  };
  try {
    const log = (line: string) => console.log(`[setup] ${line}`);
    const started = Date.now();

    const [cli, pg, emulator, bundlePath] = await Promise.all([
      resolveTemporalCli({
        explicitPath: process.env.TEMPORAL_CLI_PATH,
        env: process.env,
        onProgress: log,
        allowSdkDownload: false,
      }),
      process.env.DATABASE_URL
        ? Promise.resolve({ url: process.env.DATABASE_URL, stop: async () => {} })
        : startPostgresCluster(),
      startEmulator(),
      (async () => {
        const dir = mkdtempSync(join(tmpdir(), 'threadline-bundle-'));
        cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
        const { code } = await bundleWorkflows();
        const path = join(dir, 'workflows.js');
        writeFileSync(path, code);
        return path;
      })(),
    ]);
    cleanups.push(
      () => pg.stop(),
      () => emulator.close(),
    );

    const temporal = await startDevServer({ cli, port: await freePort() });
    cleanups.push(() => temporal.stop());

    project.provide('temporalAddress', temporal.address);
    project.provide('temporalNamespace', temporal.namespace);
    project.provide('postgresAdminUrl', pg.url);
    project.provide('emulatorBaseUrl', emulator.baseUrl);
    project.provide('emulatorOrigin', emulator.origin);
    project.provide('workflowBundlePath', bundlePath);
    log(
      `Temporal ${temporal.address}, PostgreSQL ${redact(pg.url)}, emulator ${emulator.origin} (${Date.now() - started} ms)`,
    );
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
