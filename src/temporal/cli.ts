import { spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { homedir, platform } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds (or builds) a Temporal CLI executable, the binary that runs `temporal server start-dev`.
 *
 * These machines cannot download Temporal binaries, and the SDK's own dev-server download fails, so
 * the order is: an explicit path, PATH, a cached build, a build with `go install`, the SDK download,
 * and otherwise an error that says exactly what to install.
 */

/**
 * v1.5.1 (Server 1.29.1, Web UI 2.42.1) is the newest CLI release whose go.mod has no `replace`
 * directive; `go install pkg@version` refuses modules that have one.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export type TemporalCli =
  | { kind: 'path'; path: string; source: 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go-install' }
  /** No binary here: @temporalio/testing downloads one (needs internet). */
  | { kind: 'sdk-download'; source: 'sdk-download' };

export interface ResolveOptions {
  /** TEMPORAL_CLI_PATH from the config. */
  explicitPath?: string | undefined;
  /** Environment used for PATH, HOME and cache lookups, and passed to `go`. */
  env: Record<string, string | undefined>;
  /** Progress lines (the first build takes minutes). */
  onProgress?: (line: string) => void;
  /** Allow the last resort of letting the SDK download the CLI. Default true. */
  allowSdkDownload?: boolean;
}

export class TemporalCliError extends Error {
  override name = 'TemporalCliError';
}

const exe = platform() === 'win32' ? 'temporal.exe' : 'temporal';

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The user's cache directory (XDG on Linux), never inside the repository. */
export function userCacheDir(env: Record<string, string | undefined>): string {
  if (env.XDG_CACHE_HOME) return env.XDG_CACHE_HOME;
  const home = env.HOME ?? homedir();
  if (platform() === 'darwin') return join(home, 'Library', 'Caches');
  if (platform() === 'win32') return env.LOCALAPPDATA ?? join(home, 'AppData', 'Local');
  return join(home, '.cache');
}

export function cachedCliPath(
  env: Record<string, string | undefined>,
  version = TEMPORAL_CLI_VERSION,
): string {
  return join(userCacheDir(env), 'threadline', 'temporal-cli', version, exe);
}

export async function resolveTemporalCli(options: ResolveOptions): Promise<TemporalCli> {
  const { env, explicitPath } = options;
  const progress = options.onProgress ?? (() => {});

  if (explicitPath) {
    if (!isExecutableFile(explicitPath)) {
      throw new TemporalCliError(
        `TEMPORAL_CLI_PATH points at ${explicitPath}, which is not an executable file. ` +
          `Fix the path, or unset TEMPORAL_CLI_PATH to let Threadline find or build the CLI.`,
      );
    }
    return { kind: 'path', path: explicitPath, source: 'TEMPORAL_CLI_PATH' };
  }

  const onPath = findOnPath(exe, env.PATH);
  if (onPath) return { kind: 'path', path: onPath, source: 'PATH' };

  const cached = cachedCliPath(env);
  if (isExecutableFile(cached)) return { kind: 'path', path: cached, source: 'cache' };

  const go = findOnPath(platform() === 'win32' ? 'go.exe' : 'go', env.PATH);
  if (go) {
    await goInstall(
      go,
      {
        label: `the Temporal CLI ${TEMPORAL_CLI_VERSION}`,
        packages: [`${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`],
        binaries: [{ built: exe, cached: exe }],
        dir: join(cached, '..'),
        hint: missingCliMessage(),
      },
      env,
      progress,
    );
    return { kind: 'path', path: cached, source: 'go-install' };
  }

  if (options.allowSdkDownload ?? true) {
    progress(
      'No Temporal CLI and no Go toolchain found: letting @temporalio/testing download the dev server.',
    );
    return { kind: 'sdk-download', source: 'sdk-download' };
  }
  throw new TemporalCliError(missingCliMessage());
}

export function missingCliMessage(): string {
  return [
    'No Temporal CLI found. Install one of these, then run again:',
    `  - Go 1.25 or newer (https://go.dev/dl/; the CLI's go.mod requires 1.25): Threadline then builds the CLI once with`,
    `      go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`,
    '  - or the Temporal CLI itself (https://docs.temporal.io/cli), on PATH or named by TEMPORAL_CLI_PATH',
    '  - or point TEMPORAL_ADDRESS at a running Temporal server.',
  ].join('\n');
}

/** What one `go install` builds: packages at one version, binaries renamed into a cache directory. */
export interface GoBuild {
  /** For progress lines and errors, e.g. 'the Temporal CLI v1.5.1'. */
  label: string;
  /** `module/path@version` arguments to `go install`. */
  packages: string[];
  /** The binaries go install writes into GOBIN, and the name each gets in the cache directory. */
  binaries: { built: string; cached: string }[];
  /** The cache directory (the version's directory). */
  dir: string;
  /** Printed under the error when the build fails. */
  hint: string;
}

/**
 * Builds into a temporary GOBIN beside the cache entry and renames it into place, so that a build
 * interrupted half-way, or two builds racing, never leave a broken binary in the cache.
 */
export async function goInstall(
  go: string,
  build: GoBuild,
  env: Record<string, string | undefined>,
  progress: (line: string) => void,
): Promise<void> {
  mkdirSync(build.dir, { recursive: true });
  const gobin = mkdtempSync(join(build.dir, '.build-'));
  const started = Date.now();
  progress(
    `Building ${build.label} with Go (first run only; takes a few minutes on 2 cores). Cached in ${build.dir}`,
  );

  let packages = 0;
  let lastLines: string[] = [];
  const ticker = setInterval(() => {
    const secs = Math.round((Date.now() - started) / 1000);
    progress(`  ... still building ${build.label}: ${packages} packages compiled, ${secs}s`);
  }, 15_000);

  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(go, ['install', '-v', ...build.packages], {
        // Outside any module: `go install pkg@version` must not see the repository's files, and Go's
        // module and build caches stay at their defaults in the user's home, never in the repo.
        cwd: build.dir,
        env: { ...env, GOBIN: gobin, GOFLAGS: '-buildvcs=false', GO111MODULE: 'on' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (!line.trim()) continue;
          // `-v` prints one import path per compiled package; anything else is worth keeping for errors.
          if (/^[\w.-]+(\/[\w.@+-]+)*$/.test(line.trim())) packages++;
          lastLines = [...lastLines.slice(-30), line];
        }
      });
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (code !== 0) {
      throw new TemporalCliError(
        `go install ${build.packages.join(' ')} failed (exit ${code}):\n` +
          lastLines.join('\n') +
          '\n\n' +
          build.hint,
      );
    }
    for (const { built } of build.binaries) {
      if (!existsSync(join(gobin, built)))
        throw new TemporalCliError(`go install finished but produced no ${join(gobin, built)}`);
    }
    for (const { built, cached } of build.binaries) renameSync(join(gobin, built), join(build.dir, cached));
    progress(`Built ${build.label} in ${Math.round((Date.now() - started) / 1000)}s: ${build.dir}`);
  } finally {
    clearInterval(ticker);
    rmSync(gobin, { recursive: true, force: true });
  }
}

/** `temporal --version` output, for logs and diagnostics. */
export function cliVersion(path: string): string | undefined {
  const out = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

// `tsx src/temporal/cli.ts`: resolve (building if needed) and print the path. .ci/run uses it to
// warm the cache with visible progress before the tests start.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  resolveTemporalCli({
    explicitPath: process.env.TEMPORAL_CLI_PATH,
    env: process.env,
    onProgress: (line) => console.error(line),
    allowSdkDownload: false,
  }).then(
    (cli) => {
      if (cli.kind === 'path') {
        console.error(`Temporal CLI (${cli.source}): ${cliVersion(cli.path) ?? 'version unknown'}`);
        console.log(cli.path);
      }
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
