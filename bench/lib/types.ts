import type { Stack } from './stack.js';

export interface BenchContext {
  stack: Stack;
  /** Smaller sizes: a smoke run of the whole suite in a few minutes. */
  quick: boolean;
  log(line: string): void;
}

export interface Benchmark<R = unknown> {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<R>;
}
