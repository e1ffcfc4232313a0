import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { temporalConnectionOptions } from '../../src/temporal/connection.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('how the worker and the API reach Temporal', () => {
  it('plain on a private network, with the default address', () => {
    expect(temporalConnectionOptions(loadConfig({}))).toEqual({ address: 'localhost:7233' });
  });

  it('an API key (Temporal Cloud) turns TLS on', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'k' });
    expect(temporalConnectionOptions(config)).toEqual({
      address: 'ns.acct.tmprl.cloud:7233',
      apiKey: 'k',
      tls: true,
    });
  });

  it('mutual TLS reads the certificate, key and CA files at start-up', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CERT_PATH: file('client.pem', 'CERT'),
      TEMPORAL_TLS_KEY_PATH: file('client.key', 'KEY'),
      TEMPORAL_TLS_CA_PATH: file('ca.pem', 'CA'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    const options = temporalConnectionOptions(config);
    expect(options.address).toBe('temporal.internal:7233');
    expect(options.tls).toEqual({
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
      serverRootCACertificate: Buffer.from('CA'),
      serverNameOverride: 'temporal.internal',
    });
  });

  it('an unreadable certificate path fails at start-up, naming the variable', () => {
    const config = loadConfig({
      TEMPORAL_TLS_CERT_PATH: join(dir, 'missing.pem'),
      TEMPORAL_TLS_KEY_PATH: file('k', 'KEY'),
    });
    expect(() => temporalConnectionOptions(config)).toThrow(
      /TEMPORAL_TLS_CERT_PATH points at .*missing\.pem, which cannot be read \(ENOENT\)/,
    );
  });

  it.each([
    [{ TEMPORAL_TLS_CERT_PATH: '/c' }, /must be set together/],
    [
      { TEMPORAL_TLS_CERT_PATH: '/c', TEMPORAL_TLS_KEY_PATH: '/k', TEMPORAL_API_KEY: 'x' },
      /are alternatives/,
    ],
    [{ TEMPORAL_TLS_CA_PATH: '/ca' }, /only apply with TEMPORAL_TLS_CERT_PATH/],
  ])('refuses an incomplete or contradictory TLS setup %#', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads worker tuning knobs, leaving unset ones to the SDK', () => {
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '2000' }).workerTuning).toEqual({
      maxCachedWorkflows: 2000,
      maxConcurrentActivityTaskExecutions: undefined,
      maxConcurrentWorkflowTaskExecutions: undefined,
      maxConcurrentWorkflowTaskPolls: undefined,
      nonStickyToStickyPollRatio: undefined,
    });
    expect(() => loadConfig({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1' })).toThrow(
      /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS/,
    );
  });
});
