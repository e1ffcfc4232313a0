import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A throwaway PostgreSQL cluster for one test run: `initdb` into a temp dir, `pg_ctl start` on a
 * free loopback port, durability off (it is thrown away), removed at the end.
 */
export interface PostgresCluster {
  /** Superuser URL of the `postgres` database. */
  url: string;
  stop(): Promise<void>;
}

function findBinDir(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return join(onPath, '..');
  // Debian keeps server binaries off PATH, under /usr/lib/postgresql/<major>/bin.
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((d) => existsSync(join(root, d, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0]) return join(root, majors[0], 'bin');
  }
  throw new Error(
    'No PostgreSQL server binaries (initdb, pg_ctl) found. Install them (Debian: apt-get install postgresql), ' +
      'or set DATABASE_URL to a PostgreSQL server the tests may create databases on.',
  );
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = findBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'threadline-pg-'));
  const dataDir = join(dir, 'data');
  const port = await freePort();
  // initdb and postgres refuse to run as root; CI machines run as root, so use the postgres account.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
  }
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]]
      : [join(bin, cmd), args];
    const out = spawnSync(file as string, argv as string[], { encoding: 'utf8' });
    if (out.status !== 0)
      throw new Error(`${cmd} failed (exit ${out.status}):\n${out.stdout}\n${out.stderr}`);
  };

  run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
  run('pg_ctl', ['-D', dataDir, '-o', options, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', 'start']);

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      try {
        run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
