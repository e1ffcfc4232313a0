import { readFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createRegistry } from '../src/agents/registry.js';
import { createOpenAIClient } from '../src/openaiClient.js';
import { createPool } from '../src/store/pool.js';
import { createWorker } from '../src/worker.js';
import { senderKey } from '../src/channels/senders.js';
import { DRILL_CHANNEL, DRILL_TENANT, drillAgent, drillSender } from './agent.js';

/**
 * A drill worker: its own process, so a drill can kill -9 it. The stock `npm run worker` knows only
 * the default agents; this one registers the drill agent and the drill channel's sender. The
 * runner passes everything in the environment and a pre-built workflow bundle (bundling takes
 * seconds, and a replacement worker must come up quickly).
 */
function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`drills/worker.ts needs ${name} (the drill runner sets it)`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const pool = createPool(env('DATABASE_URL'), 10);
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  const worker = await createWorker({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env('TEMPORAL_TASK_QUEUE'),
    pool,
    openai: createOpenAIClient({ apiKey: 'drill-key', baseUrl: env('OPENAI_BASE_URL') }),
    agents: createRegistry([
      drillAgent(pool),
      drillAgent(pool, 'conversation'),
      drillAgent(pool, 'stateless'),
    ]),
    senders: new Map([
      [
        senderKey(DRILL_TENANT, DRILL_CHANNEL),
        drillSender(pool, Number(process.env.DRILL_SEND_DELAY_MS ?? 0)),
      ],
    ]),
    workflowBundle: { code: readFileSync(env('DRILL_WORKFLOW_BUNDLE'), 'utf8') },
  });
  const running = worker.run();
  // The runner waits for this line before it sends traffic or kills anything.
  console.log('drill worker ready');
  await running;
  await connection.close();
  await pool.end();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
