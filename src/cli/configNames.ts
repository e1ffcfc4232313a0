import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Where the command looks for a project's config, in order (no imports: `--help` stays quick). */
export const CONFIG_FILES = [
  'threadline.config.ts',
  'threadline.config.mts',
  'threadline.config.js',
  'threadline.config.mjs',
];

export function findConfigFile(dir: string): string | undefined {
  return CONFIG_FILES.map((name) => join(dir, name)).find((path) => existsSync(path));
}
