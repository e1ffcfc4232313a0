import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A throwaway PostgreSQL cluster the drills can stop and start again on the same data directory and
 * port (the test suite's cluster is started once and only ever removed). Commits are synchronous:
 * the outage drill stops the server while writes are in flight, and a commit acknowledged to the
 * runtime must still be there afterwards, or the drill would blame the runtime for a lost write.
 */
export interface DrillPostgres {
  /** Superuser URL of the `postgres` database. */
  url: string;
  stop(): void;
  start(): void;
  /** Stops the server and removes the cluster. */
  destroy(): void;
}

function binDir(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return join(onPath, '..');
  // Debian keeps the server binaries off PATH.
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!majors[0]) {
    throw new Error(
      'The drills need PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or put them on PATH.',
    );
  }
  return join(root, majors[0], 'bin');
}

export async function startDrillPostgres(): Promise<DrillPostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'threadline-drill-pg-'));
  const dataDir = join(dir, 'data');
  const port = await freePort();
  // initdb and postgres refuse to run as root.
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
    const out = spawnSync(file, argv, { encoding: 'utf8' });
    if (out.status !== 0)
      throw new Error(`${cmd} failed (exit ${out.status}):\n${out.stdout}\n${out.stderr}`);
  };
  run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    // No OS crash is simulated, so fsync buys nothing; synchronous_commit stays on (see above).
    '-c fsync=off',
    '-c max_connections=300',
  ].join(' ');
  const start = () =>
    run('pg_ctl', ['-D', dataDir, '-o', options, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', 'start']);
  // 'fast' is what an operator's restart or a failover does: open connections are cut at once.
  const stop = () => run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']);
  start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      stop();
      running = false;
    },
    start() {
      start();
      running = true;
    },
    destroy() {
      try {
        if (running) run('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
