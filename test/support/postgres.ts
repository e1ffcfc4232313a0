import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A throwaway PostgreSQL cluster: `initdb` into a temp dir, `pg_ctl start` on a free loopback port,
 * removed at the end. The test suite starts one per run; the fault drills also take it down and
 * bring it back on the same data and port (an outage).
 */
export interface PostgresCluster {
  /** Superuser URL of the `postgres` database. */
  url: string;
  /** Stops the server and removes the cluster. */
  stop(): Promise<void>;
  /** Stops the server like an operator's restart or a failover would (connections cut), keeping its data. */
  pause(): void;
  /** Starts it again on the same data directory and port. */
  resume(): void;
}

export interface ClusterOptions {
  /**
   * Keep synchronous commits (default off: the data is thrown away). The outage drill needs them:
   * a commit acknowledged to the runtime must survive the stop, or the drill would blame the
   * runtime for a write the server dropped.
   */
  synchronousCommit?: boolean;
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

export async function startPostgresCluster(options: ClusterOptions = {}): Promise<PostgresCluster> {
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
  const settings = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    // No OS crash is simulated, so flushing to disk buys nothing.
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
    ...(options.synchronousCommit ? [] : ['-c synchronous_commit=off']),
  ].join(' ');
  const start = () =>
    run('pg_ctl', [
      '-D',
      dataDir,
      '-o',
      settings,
      '-l',
      join(dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  start();
  let running = true;

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pause() {
      run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
      running = false;
    },
    resume() {
      start();
      running = true;
    },
    async stop() {
      try {
        if (running) run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
