import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { TemporalCliError } from '../../src/temporal/cli.js';
import {
  cachedServerDir,
  dynamicConfig,
  freePorts,
  resolveTemporalServer,
  schemaCommands,
  serverConfig,
  SERVER_EXE,
  SQL_TOOL_EXE,
  TEMPORAL_SERVER_VERSION,
} from '../../src/temporal/server.js';

/**
 * The pure parts of the production-shaped Temporal: where the binaries come from (fake executables
 * and a fake `go`, as in cli.test.ts), the config the server reads, the schema commands.
 * test/temporal/serverRun.test.ts starts the real thing.
 */
let root: string;
let bin: string;
let cache: string;

function executable(path: string, body = '#!/bin/sh\necho fake\n'): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, body);
  chmodSync(path, 0o755);
  return path;
}

function fakeGo(dir: string, exitCode = 0): string {
  return executable(
    join(dir, 'go'),
    [
      '#!/bin/sh',
      `echo "$@" > "${root}/go-args"`,
      `echo "PWD=$PWD" > "${root}/go-env"`,
      'echo go.temporal.io/server/cmd/server >&2',
      exitCode === 0
        ? 'for b in server sql; do printf "#!/bin/sh\\necho built\\n" > "$GOBIN/$b" && chmod +x "$GOBIN/$b"; done'
        : 'echo "go: go.temporal.io/server@v1.29.1: connection refused" >&2',
      `exit ${exitCode}`,
    ].join('\n'),
  );
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tl-server-'));
  bin = join(root, 'bin');
  cache = join(root, 'cache');
  mkdirSync(bin);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('resolveTemporalServer', () => {
  it('1. prefers both release binaries on PATH', async () => {
    const server = executable(join(bin, SERVER_EXE));
    const sqlTool = executable(join(bin, SQL_TOOL_EXE));
    fakeGo(bin);
    expect(await resolveTemporalServer({ env: { PATH: bin, XDG_CACHE_HOME: cache } })).toEqual({
      server,
      sqlTool,
      source: 'PATH',
    });
    expect(existsSync(join(root, 'go-args'))).toBe(false);
  });

  it('2. then the cached build, keyed by version under the user cache dir (one binary on PATH is not enough)', async () => {
    const env = { PATH: bin, XDG_CACHE_HOME: cache };
    const dir = cachedServerDir(env);
    expect(dir).toBe(join(cache, 'threadline', 'temporal-server', TEMPORAL_SERVER_VERSION));
    executable(join(bin, SERVER_EXE));
    executable(join(dir, SERVER_EXE));
    executable(join(dir, SQL_TOOL_EXE));
    fakeGo(bin);
    expect(await resolveTemporalServer({ env })).toEqual({
      server: join(dir, SERVER_EXE),
      sqlTool: join(dir, SQL_TOOL_EXE),
      source: 'cache',
    });
    expect(existsSync(join(root, 'go-args'))).toBe(false);
  });

  it('3. else builds the server and the sql tool at v1.29.1 with one go install, outside the repo, with progress', async () => {
    fakeGo(bin);
    const env = { PATH: `${bin}:/usr/bin:/bin`, XDG_CACHE_HOME: cache };
    const progress: string[] = [];
    const found = await resolveTemporalServer({ env, onProgress: (l) => progress.push(l) });
    expect(found.source).toBe('go-install');
    expect(readFileSync(join(root, 'go-args'), 'utf8').trim()).toBe(
      'install -v go.temporal.io/server/cmd/server@v1.29.1 go.temporal.io/server/cmd/tools/sql@v1.29.1',
    );
    expect(readFileSync(join(root, 'go-env'), 'utf8')).toContain(`PWD=${cachedServerDir(env)}`);
    expect(progress[0]).toMatch(/Building Temporal Server v1\.29\.1 and its SQL tool with Go/);
    expect(progress.at(-1)).toMatch(/Built Temporal Server v1\.29\.1 and its SQL tool in \d+s/);
    expect(readdirSync(cachedServerDir(env)).sort()).toEqual([SERVER_EXE, SQL_TOOL_EXE]);
    rmSync(join(root, 'go-args'));
    expect((await resolveTemporalServer({ env })).source).toBe('cache');
    expect(existsSync(join(root, 'go-args'))).toBe(false);
  });

  it('3. a failed build leaves nothing in the cache and says what to install', async () => {
    fakeGo(bin, 1);
    const env = { PATH: `${bin}:/usr/bin:/bin`, XDG_CACHE_HOME: cache };
    const error = await resolveTemporalServer({ env }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemporalCliError);
    expect((error as Error).message).toContain('connection refused');
    expect((error as Error).message).toContain('No Temporal Server found');
    expect(readdirSync(cachedServerDir(env))).toEqual([]);
  });

  it('4. without Go, fails naming the two binaries and the way back to the dev server', async () => {
    const error = await resolveTemporalServer({ env: { PATH: bin, XDG_CACHE_HOME: cache } }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain('temporal-server and temporal-sql-tool');
    expect((error as Error).message).toContain('go install go.temporal.io/server/cmd/server@v1.29.1');
    expect((error as Error).message).toContain('unset THREADLINE_TEMPORAL');
  });
});

describe('serverConfig', () => {
  const ports = {
    frontend: 7233,
    frontendHttp: 7243,
    frontendMembership: 6933,
    history: 7234,
    historyMembership: 6934,
    matching: 7235,
    matchingMembership: 6935,
    worker: 7239,
    workerMembership: 6939,
  };
  const config = serverConfig({
    ip: '127.0.0.1',
    ports,
    postgres: { host: 'db.internal', port: 5544, user: 'temporal', password: 's3cret' },
    databases: { main: 't1', visibility: 't1_visibility' },
    numHistoryShards: 4,
    dynamicConfigPath: '/tmp/x/dynamicconfig.yaml',
    maxConns: 20,
    logLevel: 'warn',
  });
  // What the server reads: the JSON text parsed as YAML.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const read = parse(JSON.stringify(config)) as any;

  it('puts both stores on PostgreSQL (postgres12), each on its own database', () => {
    expect(read.persistence.defaultStore).toBe('postgres-default');
    expect(read.persistence.visibilityStore).toBe('postgres-visibility');
    const main = read.persistence.datastores['postgres-default'].sql;
    const vis = read.persistence.datastores['postgres-visibility'].sql;
    expect(main).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 't1',
      connectAddr: 'db.internal:5544',
      user: 'temporal',
      password: 's3cret',
      maxConns: 20,
    });
    expect(vis).toMatchObject({ pluginName: 'postgres12', databaseName: 't1_visibility', maxConns: 5 });
    expect(read.persistence.numHistoryShards).toBe(4);
  });

  it('binds every service to the given ports on the given IP, and names the frontend for the cluster', () => {
    const s = read.services;
    expect(s.frontend.rpc).toEqual({
      grpcPort: 7233,
      membershipPort: 6933,
      httpPort: 7243,
      bindOnIP: '127.0.0.1',
    });
    expect(s.history.rpc).toMatchObject({ grpcPort: 7234, membershipPort: 6934 });
    expect(s.matching.rpc).toMatchObject({ grpcPort: 7235, membershipPort: 6935 });
    expect(s.worker.rpc).toMatchObject({ grpcPort: 7239, membershipPort: 6939 });
    const bound = Object.values(s).flatMap((x) => {
      const rpc = (x as { rpc: Record<string, unknown> }).rpc;
      return [rpc.grpcPort, rpc.membershipPort, rpc.httpPort].filter(Boolean);
    });
    expect(new Set(bound).size).toBe(9);
    expect(read.clusterMetadata.clusterInformation.active.rpcAddress).toBe('127.0.0.1:7233');
    expect(read.dynamicConfigClient.filepath).toBe('/tmp/x/dynamicconfig.yaml');
  });

  it('shortens only the namespace cache refresh in dynamic config (a fresh namespace is usable at once)', () => {
    expect(Object.keys(dynamicConfig()).sort()).toEqual([
      'limit.maxIDLength',
      'system.namespaceCacheRefreshInterval',
    ]);
  });
});

describe('schemaCommands', () => {
  const conn = { host: '127.0.0.1', port: 5432, user: 'postgres', password: '' };

  it('creates, sets up and migrates a new database from the schema embedded in the sql tool', () => {
    const cmds = schemaCommands(conn, 't1', 'temporal', 'absent');
    expect(cmds.map((c) => c.slice(c.indexOf('t1') + 1).join(' '))).toEqual([
      'create-database',
      'setup-schema -v 0.0',
      'update-schema --schema-name postgresql/v12/temporal',
    ]);
    expect(cmds[0]!.slice(0, 2)).toEqual(['--plugin', 'postgres12']);
    expect(cmds[0]).not.toContain('--pw');
  });

  it('sets up an empty database without creating it (the postgres image makes one named after its user)', () => {
    const cmds = schemaCommands(conn, 'temporal', 'temporal', 'empty');
    expect(cmds.map((c) => c.slice(c.indexOf('temporal') + 1)[0])).toEqual(['setup-schema', 'update-schema']);
  });

  it('only migrates a database that has the schema (a restart, or an upgrade), and passes a password when there is one', () => {
    const cmds = schemaCommands({ ...conn, password: 'pw' }, 't1_visibility', 'visibility', 'versioned');
    expect(cmds).toHaveLength(1);
    expect(cmds[0]).toContain('--pw');
    expect(cmds[0]!.slice(-3)).toEqual(['update-schema', '--schema-name', 'postgresql/v12/visibility']);
  });
});

describe('freePorts', () => {
  it('hands out distinct ports below 32768 (Temporal keeps membership ports in a smallint)', async () => {
    const ports = await freePorts(9);
    expect(new Set(ports).size).toBe(9);
    for (const port of ports) expect(port).toBeLessThan(32_768);
  });
});

describe('THREADLINE_TEMPORAL', () => {
  it('defaults to the dev server and accepts server', () => {
    expect(loadConfig({}).temporal.shape).toBe('dev');
    expect(loadConfig({ THREADLINE_TEMPORAL: 'server' }).temporal.shape).toBe('server');
  });

  it('rejects anything else, naming the variable and both values', () => {
    expect(() => loadConfig({ THREADLINE_TEMPORAL: 'prod' })).toThrow(
      /THREADLINE_TEMPORAL must be dev \(the single-binary dev server on SQLite, the default\) or server \(Temporal Server on PostgreSQL/,
    );
  });
});
