import { parseArgs } from 'node:util';
import { startEmulator } from './server.js';

/** CLI: `tsx src/emulator/main.ts --port 8787 [--host 127.0.0.1] [--state-file .data/emulator.json] [--retention-days 30] [--no-reasoning-items]` */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.EMULATOR_PORT ?? '8787' },
    host: { type: 'string', default: process.env.EMULATOR_HOST ?? '127.0.0.1' },
    'state-file': { type: 'string', default: process.env.EMULATOR_STATE_FILE },
    'retention-days': { type: 'string' },
    'no-reasoning-items': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

const log = (msg: string) => {
  if (!values.quiet) console.log(msg);
};

const emulator = await startEmulator({
  port: Number(values.port),
  host: values.host,
  ...(values['state-file'] ? { stateFile: values['state-file'] } : {}),
  ...(values['retention-days'] ? { retentionDays: Number(values['retention-days']) } : {}),
  ...(values['no-reasoning-items'] ? { reasoningItems: false } : {}),
  logger: { info: log, warn: (msg) => console.warn(msg) },
});
log(`OpenAI emulator ready: OPENAI_BASE_URL=${emulator.baseUrl}`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log(`emulator: ${signal}, shutting down`);
  emulator.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
