import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { ConfigError, resolveConfig, type ResolvedConfig } from '../public/config.js';

/**
 * Finds and loads a project's threadline.config.{ts,mts,js,mjs}. JavaScript is imported as it is;
 * TypeScript is bundled by esbuild first (the project's own relative files inlined, packages left as
 * imports so `threadline` and `@openai/agents` resolve to the project's single installed copies),
 * written beside the project's node_modules and imported from there. esbuild rather than a runtime
 * loader such as tsx: nothing hooks Node's module loading, the installed package runs compiled code,
 * and a syntax or type-stripping error is reported with file and line before anything starts.
 */

export { CONFIG_FILES, findConfigFile } from './configNames.js';

export async function loadConfigFile(file: string): Promise<ResolvedConfig> {
  const path = resolve(file);
  const name = basename(path);
  if (!existsSync(path)) throw new ConfigError(`${file}: no such file (pass --config <file>, or create it)`);
  const ext = extname(path);
  let module: { default?: unknown };
  try {
    module = ['.ts', '.mts', '.cts'].includes(ext)
      ? await importTypeScript(path)
      : await import(pathToFileURL(path).href);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${name} failed to load: ${(err as Error).message}`);
  }
  if (module.default === undefined)
    throw new ConfigError(
      `${name} has no default export: end it with export default defineConfig({ agents: [...] })`,
    );
  return resolveConfig(module.default, name);
}

async function importTypeScript(path: string): Promise<{ default?: unknown }> {
  const result = await build({
    entryPoints: [path],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    sourcemap: 'inline',
    logLevel: 'silent',
    plugins: [ownUrls],
  }).catch(
    (err: { errors?: { text: string; location?: { file: string; line: number; column: number } }[] }) => {
      const first = err.errors?.[0];
      if (!first) throw err;
      const at = first.location
        ? `${first.location.file}:${first.location.line}:${first.location.column}: `
        : '';
      throw new ConfigError(`${basename(path)} does not compile: ${at}${first.text}`);
    },
  );
  const modules = join(dirname(path), 'node_modules');
  const outDir = existsSync(modules) ? join(modules, '.cache', 'threadline') : dirname(path);
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `.threadline.config.${process.pid}.${Date.now()}.mjs`);
  writeFileSync(out, result.outputFiles[0]!.text);
  try {
    return (await import(pathToFileURL(out).href)) as { default?: unknown };
  } finally {
    rmSync(out, { force: true });
  }
}

/**
 * Bundling moves every inlined file's code into one output file; this keeps `import.meta.url` (and
 * dirname, filename) meaning each source file's own location, so `new URL('./instructions.txt',
 * import.meta.url)` in an agent module finds the file beside it.
 */
const ownUrls: Plugin = {
  name: 'threadline-own-urls',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const source = readFileSync(args.path, 'utf8');
      const contents = source
        .replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href))
        .replace(/\bimport\.meta\.dirname\b/g, JSON.stringify(dirname(args.path)))
        .replace(/\bimport\.meta\.filename\b/g, JSON.stringify(args.path));
      const ext = extname(args.path);
      const loader = ext.includes('ts')
        ? ext.endsWith('x')
          ? 'tsx'
          : 'ts'
        : ext.endsWith('x')
          ? 'jsx'
          : 'js';
      return { contents, loader };
    });
  },
};
