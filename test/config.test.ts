import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('gives embedded defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.database.url).toBeUndefined();
    expect(config.temporal.address).toBeUndefined();
    expect(config.openai.apiKey).toBeUndefined();
    expect(config.temporal).toMatchObject({
      namespace: 'default',
      taskQueue: 'threadline',
      devPort: 7233,
      devUiPort: 8233,
    });
    expect(config.api.port).toBe(3000);
    expect(config.dataDir).toBe('.data');
  });

  it('gives in-flight activities 10 s on shutdown unless WORKER_SHUTDOWN_GRACE_MS says otherwise', () => {
    expect(loadConfig({}).workerShutdownGraceMs).toBe(10_000);
    expect(loadConfig({ WORKER_SHUTDOWN_GRACE_MS: '2500' }).workerShutdownGraceMs).toBe(2500);
    expect(() => loadConfig({ WORKER_SHUTDOWN_GRACE_MS: '-1' })).toThrow(/WORKER_SHUTDOWN_GRACE_MS/);
  });

  it('bounds a failing media download by MEDIA_FETCH_ATTEMPTS, MEDIA_DOWNLOAD_TIMEOUT_MS and MEDIA_FETCH_MAX_TOTAL_MS', () => {
    expect(loadConfig({}).media).toMatchObject({
      maxAttempts: 5,
      downloadTimeoutMs: 20_000,
      maxTotalMs: 120_000,
    });
    const media = loadConfig({
      MEDIA_FETCH_ATTEMPTS: '3',
      MEDIA_DOWNLOAD_TIMEOUT_MS: '5000',
      MEDIA_FETCH_MAX_TOTAL_MS: '60000',
    }).media;
    expect(media).toMatchObject({ maxAttempts: 3, downloadTimeoutMs: 5000, maxTotalMs: 60_000 });
    // A download longer than the input step's 30 s attempt would time the step out instead.
    expect(() => loadConfig({ MEDIA_DOWNLOAD_TIMEOUT_MS: '60000' })).toThrow(/MEDIA_DOWNLOAD_TIMEOUT_MS/);
  });

  it('hands ?wait=true messages over without a queue unless MESSAGE_HANDOVER_LIMIT says how many at a time', () => {
    expect(loadConfig({}).api.handoverLimit).toBe(0);
    expect(loadConfig({ MESSAGE_HANDOVER_LIMIT: '32' }).api.handoverLimit).toBe(32);
    expect(() => loadConfig({ MESSAGE_HANDOVER_LIMIT: '-1' })).toThrow(/MESSAGE_HANDOVER_LIMIT/);
    expect(() => loadConfig({ MESSAGE_HANDOVER_LIMIT: 'many' })).toThrow(/MESSAGE_HANDOVER_LIMIT/);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: ' ' }).database.url).toBeUndefined();
  });

  it('names every bad variable and the fix, without echoing values', () => {
    const secret = 'mysql://root:hunter2@db/app';
    let error: unknown;
    try {
      loadConfig({ DATABASE_URL: secret, PORT: 'eighty', TEMPORAL_ADDRESS: 'http://x' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('DATABASE_URL is not a postgres URL: expected postgres://');
    expect(message).toContain('PORT');
    expect(message).toContain('TEMPORAL_ADDRESS must be host:port');
    expect(message).not.toContain('hunter2');
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it('reads real services when they are configured', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://u:p@db:5432/threadline',
      TEMPORAL_ADDRESS: 'temporal:7233',
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: 'https://example.test/v1',
    });
    expect(config.database.url).toBe('postgresql://u:p@db:5432/threadline');
    expect(config.temporal.address).toBe('temporal:7233');
    expect(config.openai).toMatchObject({ apiKey: 'sk-test', baseUrl: 'https://example.test/v1' });
  });
});
