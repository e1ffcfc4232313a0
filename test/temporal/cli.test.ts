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
import {
  cachedCliPath,
  resolveTemporalCli,
  TEMPORAL_CLI_MODULE,
  TEMPORAL_CLI_VERSION,
  TemporalCliError,
} from '../../src/temporal/cli.js';

/**
 * The resolution order, with fake executables in temp dirs: no test here needs Go, internet or a
 * real CLI. A fake `go` records its arguments and writes a fake binary into GOBIN.
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
      `echo "GOBIN=$GOBIN PWD=$PWD" > "${root}/go-env"`,
      'echo github.com/temporalio/cli/cmd/temporal >&2',
      exitCode === 0
        ? 'printf "#!/bin/sh\\necho built\\n" > "$GOBIN/temporal" && chmod +x "$GOBIN/temporal"'
        : 'echo "go: module lookup disabled" >&2',
      `exit ${exitCode}`,
    ].join('\n'),
  );
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'tl-cli-'));
  bin = join(root, 'bin');
  cache = join(root, 'cache');
  mkdirSync(bin);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('resolveTemporalCli', () => {
  it('1. prefers TEMPORAL_CLI_PATH', async () => {
    const explicit = executable(join(root, 'mine', 'temporal'));
    executable(join(bin, 'temporal'));
    const cli = await resolveTemporalCli({
      explicitPath: explicit,
      env: { PATH: bin, XDG_CACHE_HOME: cache },
    });
    expect(cli).toEqual({ kind: 'path', path: explicit, source: 'TEMPORAL_CLI_PATH' });
  });

  it('1. rejects a TEMPORAL_CLI_PATH that is not executable, naming the variable', async () => {
    await expect(
      resolveTemporalCli({ explicitPath: join(root, 'nope'), env: { PATH: bin, XDG_CACHE_HOME: cache } }),
    ).rejects.toThrow(/TEMPORAL_CLI_PATH points at .*nope, which is not an executable file/);
  });

  it('2. then `temporal` on PATH', async () => {
    const onPath = executable(join(bin, 'temporal'));
    const cli = await resolveTemporalCli({ env: { PATH: `/nonexistent:${bin}`, XDG_CACHE_HOME: cache } });
    expect(cli).toEqual({ kind: 'path', path: onPath, source: 'PATH' });
  });

  it('3. then the cached build, keyed by version under the user cache dir', async () => {
    const env = { PATH: bin, XDG_CACHE_HOME: cache };
    expect(cachedCliPath(env)).toBe(
      join(cache, 'threadline', 'temporal-cli', TEMPORAL_CLI_VERSION, 'temporal'),
    );
    executable(cachedCliPath(env));
    fakeGo(bin); // must not be used
    const cli = await resolveTemporalCli({ env });
    expect(cli).toEqual({ kind: 'path', path: cachedCliPath(env), source: 'cache' });
    expect(existsSync(join(root, 'go-args'))).toBe(false);
  });

  it('4. else builds it with go install into the cache, outside the repository, with progress', async () => {
    fakeGo(bin);
    const env = { PATH: `${bin}:/usr/bin:/bin`, XDG_CACHE_HOME: cache };
    const progress: string[] = [];
    const cli = await resolveTemporalCli({ env, onProgress: (l) => progress.push(l) });
    expect(cli).toEqual({ kind: 'path', path: cachedCliPath(env), source: 'go-install' });
    expect(readFileSync(join(root, 'go-args'), 'utf8').trim()).toBe(
      `install -v ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`,
    );
    const goEnv = readFileSync(join(root, 'go-env'), 'utf8');
    expect(goEnv).toContain(`PWD=${join(cache, 'threadline', 'temporal-cli', TEMPORAL_CLI_VERSION)}`);
    expect(progress[0]).toMatch(/Building the Temporal CLI v1\.5\.1 with Go/);
    expect(progress.at(-1)).toMatch(/Built the Temporal CLI v1\.5\.1 in \d+s/);
    // The temporary GOBIN is gone; only the binary is left in the cache.
    expect(readdirSync(join(cachedCliPath(env), '..'))).toEqual(['temporal']);
    // The next call finds the cache and does not build again.
    rmSync(join(root, 'go-args'));
    expect((await resolveTemporalCli({ env })).source).toBe('cache');
    expect(existsSync(join(root, 'go-args'))).toBe(false);
  });

  it('4. a failed go build leaves no broken binary and says what to install', async () => {
    fakeGo(bin, 1);
    const env = { PATH: `${bin}:/usr/bin:/bin`, XDG_CACHE_HOME: cache };
    const error = await resolveTemporalCli({ env }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemporalCliError);
    expect((error as Error).message).toContain('go: module lookup disabled');
    expect((error as Error).message).toContain('No Temporal CLI found. Install one of these');
    expect(existsSync(cachedCliPath(env))).toBe(false);
    expect(readdirSync(join(cachedCliPath(env), '..'))).toEqual([]);
  });

  it('5. without Go, lets the SDK download the dev server', async () => {
    const cli = await resolveTemporalCli({ env: { PATH: bin, XDG_CACHE_HOME: cache } });
    expect(cli).toEqual({ kind: 'sdk-download', source: 'sdk-download' });
  });

  it('6. else fails with a message saying exactly what to install', async () => {
    const error = await resolveTemporalCli({
      env: { PATH: bin, XDG_CACHE_HOME: cache },
      allowSdkDownload: false,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/Go 1\.25 or newer/);
    expect((error as Error).message).toContain(`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`);
    expect((error as Error).message).toContain('TEMPORAL_CLI_PATH');
  });
});
