import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { TEMPORAL_CLI_VERSION } from '../../src/temporal/cli.js';

/**
 * No Docker engine runs here, so the deployment files are checked statically against the code they
 * deploy: every variable the app services set is one the config reads, every command names a file
 * that exists, images are pinned to the versions the dev server runs, and the operational promises
 * (health checks, a scalable worker, volumes, secrets from .env) hold.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number>;
  env_file?: unknown;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  container_name?: string;
  volumes?: string[];
  restart?: string;
  stop_grace_period?: string;
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const appServices = ['worker', 'api'];

describe('docker-compose.yml', () => {
  it('runs the production-like stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'postgres', 'temporal', 'temporal-postgres', 'temporal-setup', 'temporal-ui', 'worker'].sort(),
    );
  });

  it('pins official images to the versions the dev server runs, never :latest', () => {
    // The CLI v1.5.1 that `npm run dev` builds bundles Server 1.29.1 and Web UI 2.42.1.
    expect(TEMPORAL_CLI_VERSION).toBe('v1.5.1');
    expect(services.temporal!.image).toBe('temporalio/auto-setup:1.29.1');
    expect(services['temporal-setup']!.image).toBe('temporalio/admin-tools:1.29.1');
    expect(services['temporal-ui']!.image).toBe('temporalio/ui:2.42.1');
    for (const [name, s] of Object.entries(services)) {
      if (s.image && !appServices.includes(name)) expect(s.image, name).toMatch(/^[\w./-]+:\d[\w.-]*$/);
    }
  });

  it('gives every long-running service a health check, and orders start-up on health', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'temporal-setup') continue; // a one-shot job
      expect(s.healthcheck?.test, `${name} healthcheck`).toBeDefined();
    }
    for (const [name, s] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
        if (condition === 'service_healthy')
          expect(services[dependency]!.healthcheck, dependency).toBeDefined();
        else expect(condition).toBe('service_completed_successfully');
      }
    }
  });

  it('keeps data in named volumes', () => {
    for (const name of ['postgres', 'temporal-postgres']) {
      const [volume] = services[name]!.volumes![0]!.split(':');
      expect(compose.volumes).toHaveProperty(volume!);
    }
  });

  it('lets the worker scale: no fixed name, no published port, a grace period to drain', () => {
    const worker = services.worker!;
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(worker.stop_grace_period).toBeDefined();
  });

  it('runs the app from this repository: commands that exist, variables the config reads', () => {
    for (const name of appServices) {
      const s = services[name]!;
      expect(s.build, name).toBe('.');
      // Compiled, as the image runs it: dist/<module>.js, built from src/<module>.ts.
      const command = s.command as string[];
      expect(command).toHaveLength(2);
      expect(command[0]).toBe('node');
      expect(command[1]).toMatch(/^dist\/.+\.js$/);
      const source = command[1]!.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
      expect(existsSync(`${root}${source}`), `${name}: ${source}`).toBe(true);
      for (const variable of Object.keys(s.environment ?? {})) {
        expect(CONFIG_VARIABLES, `${name} sets ${variable}`).toContain(variable);
      }
      expect(s.env_file).toEqual([{ path: '.env', required: false }]);
    }
  });

  it('takes secrets from .env, and .env.example documents each one the stack requires', () => {
    const text = read('docker-compose.yml');
    const required = [...text.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]!);
    const example = read('.env.example');
    for (const variable of new Set(required))
      expect(example, variable).toMatch(new RegExp(`^${variable}=`, 'm'));
    for (const line of example.split('\n').filter((l) => /^#? ?[A-Z_]+=/.test(l))) {
      const variable = line.replace(/^# ?/, '').split('=')[0]!;
      const composeOnly = ['POSTGRES_PASSWORD', 'TEMPORAL_POSTGRES_PASSWORD', 'API_PORT', 'TEMPORAL_UI_PORT'];
      if (!composeOnly.includes(variable))
        expect(CONFIG_VARIABLES, `.env.example: ${variable}`).toContain(variable);
    }
    expect(read('.gitignore')).toMatch(/^\.env$/m);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const stages = lines.filter((l) => l.startsWith('FROM '));

  it('is a multi-stage build on Node 22 (the openai SDK requires it)', () => {
    expect(stages).toHaveLength(2);
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=22$/m);
    expect(stages[0]).toMatch(/ AS build$/);
    expect(stages[1]).toMatch(/ AS runtime$/);
    // Built with the dev dependencies, which are pruned before the runtime copies node_modules.
    expect(dockerfile).toContain('RUN npm ci');
    expect(dockerfile).toMatch(/^RUN npm run build && npm prune --omit=dev /m);
    expect(dockerfile).toMatch(/^COPY --from=build .* \/app\/node_modules /m);
    expect(dockerfile).toMatch(/^COPY --from=build .* \/app\/dist /m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/api\/server\.js"\]$/m);
  });

  it('runs unprivileged with a health check, and copies only what exists', () => {
    const runtime = lines.slice(lines.indexOf(stages[1]!));
    expect(runtime).toContain('USER node');
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    for (const line of lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      const sources = line
        .replace(/--chown=\S+ /, '')
        .split(/\s+/)
        .slice(1, -1);
      for (const source of sources) expect(existsSync(`${root}${source}`), source).toBe(true);
    }
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.data', '.git', '.env']));
  });

  it('needs no dev dependency at run time (it runs compiled dist/ on plain node)', () => {
    const pkg = JSON.parse(read('package.json')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    // Peers are installed for this project too (npm installs a root project's peers, --omit=dev or not).
    const runtime = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)];
    expect(runtime).toEqual(expect.arrayContaining(['@temporalio/worker', 'pg', 'openai']));
    // The build needs these; what it built does not.
    for (const dev of ['tsx', 'typescript']) {
      expect(runtime).not.toContain(dev);
      expect(Object.keys(pkg.devDependencies)).toContain(dev);
    }
  });
});
