import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run build` (run by `npm pack` through prepack): src/ compiled to dist/ with declarations,
 * then the files the code reads beside itself (SQL migrations, instructions, fixtures) copied
 * alongside. Development and tests never need it: they run src/ with tsx.
 *
 * The compile is incremental (dist/.tsbuildinfo), so a second pack re-emits only what changed;
 * outputs whose source is gone are removed, and a missing output forces a full compile.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compile = () =>
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

const files = (dir: string) =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => relative(dir, join(e.parentPath, e.name)))
    : [];

const sources = files(src);
const modules = sources.filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
const assets = sources.filter((f) => !f.endsWith('.ts'));

compile();
const missing = () =>
  modules.filter((m) => !existsSync(join(dist, `${m}.js`)) || !existsSync(join(dist, `${m}.d.ts`)));
if (missing().length) {
  rmSync(join(dist, '.tsbuildinfo'), { force: true });
  compile();
  if (missing().length) throw new Error(`tsc emitted no output for ${missing().join(', ')}`);
}

const expected = new Set(['.tsbuildinfo', ...assets, ...modules.flatMap((m) => [`${m}.js`, `${m}.d.ts`])]);
for (const file of files(dist)) if (!expected.has(file)) rmSync(join(dist, file));
for (const asset of assets) cpSync(join(src, asset), join(dist, asset));
chmodSync(join(dist, 'cli', 'threadline.js'), 0o755);
console.log(`dist/ built (${modules.length} modules, ${assets.length} assets)`);
