import type { FunctionTool } from '@openai/agents';

/**
 * Tools that hand the conversation to a human: when the model calls one, the turn finishes (its
 * reply goes out) and the conversation enters human mode, as if an operator had taken it over.
 * A mark on the tool object, so any `tool()` can be one (src/agents/concierge/escalation.ts).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTool = FunctionTool<any, any, any>;

const marked = new WeakSet<AnyTool>();

export function takeoverTool<T extends AnyTool>(tool: T): T {
  marked.add(tool);
  return tool;
}

export function isTakeoverTool(tool: AnyTool): boolean {
  return marked.has(tool);
}
