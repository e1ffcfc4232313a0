import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * The embedded default for `npm run dev`: PGlite (Postgres compiled to WebAssembly) persisted under
 * the data directory and served over the Postgres wire protocol, so `pg` stays the only client the
 * code knows. Not for tests or production: PGlite is a single session, so the server accepts one
 * connection and the app's pool must have size 1 (two connections would interleave transactions).
 */
export interface EmbeddedPostgres {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
}): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir, 'pglite');
  mkdirSync(dataDir, { recursive: true });
  const release = acquireDirLock(dataDir);
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(dataDir);
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port, maxConnections: 1 });
    try {
      await server.start();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') {
        throw new Error(
          `Port ${options.port} for the embedded Postgres is in use. Set EMBEDDED_POSTGRES_PORT to a free port, ` +
            `or DATABASE_URL to use a running PostgreSQL server.`,
        );
      }
      throw err;
    }
    const pglite = db;
    return {
      url: `postgres://postgres:postgres@127.0.0.1:${options.port}/postgres`,
      dataDir,
      stop: async () => {
        await server.stop();
        await pglite.close();
        release();
      },
    };
  } catch (err) {
    await db?.close().catch(() => {});
    release();
    throw err;
  }
}

/** Two PGlite instances on one directory corrupt it: refuse with a message that says who holds it. */
function acquireDirLock(dataDir: string): () => void {
  const lockFile = join(dataDir, '..', 'pglite.pid');
  try {
    const pid = Number(readFileSync(lockFile, 'utf8'));
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(
        `The embedded Postgres data in ${dataDir} is in use by process ${pid} (another \`npm run dev\`?). ` +
          `Stop it, or set THREADLINE_DATA_DIR to another directory.`,
      );
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  writeFileSync(lockFile, String(process.pid));
  return () => rmSync(lockFile, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
