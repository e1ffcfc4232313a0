/**
 * Runs `handler` on the first SIGINT or SIGTERM; a second signal exits at once (130 or 143).
 *
 * The listeners stay for the life of the process on purpose: importing @openai/agents installs
 * its tracing provider's own SIGINT and SIGTERM listeners, which exit the process as soon as
 * tracing has flushed when no other listener is left. With `process.once` ours was gone by then,
 * so the API's drain and the migrate CLI's detach were cut short (exit 0 or 130 mid-shutdown).
 */
export function onShutdownSignal(handler: (signal: NodeJS.Signals) => void): void {
  let received = false;
  const listener = (signal: NodeJS.Signals) => {
    if (received) process.exit(signal === 'SIGINT' ? 130 : 143);
    received = true;
    handler(signal);
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
}
