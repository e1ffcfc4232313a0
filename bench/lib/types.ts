import type { Stack } from './stack.js';

export interface BenchContext {
  stack: Stack;
  /** Smaller sizes: a smoke run of the whole suite in a few minutes. */
  quick: boolean;
  /** Sizes given on the command line (for measuring a lever quickly); unset: the benchmark's own. */
  sizes?: { throughput?: [conversations: number, turns: number][]; memory?: number };
  log(line: string): void;
}

export interface Benchmark<R = unknown> {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<R>;
}
