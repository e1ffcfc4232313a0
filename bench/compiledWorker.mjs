/* global process, console */
/**
 * The memory benchmark's worker: bench/worker.ts's plain-agent worker, but running the compiled
 * package (dist/, `npm run build`) under plain Node, as `threadline worker` does in production.
 * Under tsx the same worker holds about 70 MB more at rest (tsx's loader thread and its compiled
 * sources), which is the benchmark's own cost, not Threadline's.
 *
 * Same contract as bench/worker.ts: options as JSON in argv[2], prints `ready`, SIGTERM drains.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createRegistry, defineAgent } from '../dist/public/index.js';
import { createOpenAIClient, createPool, loadConfig } from '../dist/public/worker.js';
import { createWorker } from '../dist/worker.js';

const options = JSON.parse(process.argv[2] ?? '{}');
Runtime.install({ logger: new DefaultLogger('ERROR') });
const pool = createPool(options.databaseUrl, 20);
const connection = await NativeConnection.connect({ address: options.temporalAddress });
// The names and settings of bench/lib/agents.ts's plain agent (that file is TypeScript).
const agents = createRegistry([
  defineAgent({ name: 'bench-plain', model: 'gpt-5-mini', instructions: 'Be brief.' }),
]);
const worker = await createWorker({
  connection,
  namespace: options.namespace,
  taskQueue: options.taskQueue,
  pool,
  openai: createOpenAIClient({ apiKey: 'bench', baseUrl: options.openaiBaseUrl }),
  agents,
  workflowBundle: { code: readFileSync(options.bundlePath, 'utf8') },
  tuning: { ...loadConfig(process.env).workerTuning, ...options.tuning },
});
const running = worker.run();
console.log('ready');
await running;
await connection.close();
await pool.end();
