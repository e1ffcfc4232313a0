import fc from 'fast-check';

/**
 * Random schedules for one conversation: what its callers do, in order. Pure data, so a failing
 * schedule prints as JSON and replays from its seed and index.
 */
export type FaultKind = 'rate_limit' | 'server_error' | 'drop_connection' | 'latency' | 'lose_answer';

export type Action =
  /** A new message by signal (a channel webhook) or by update (`?wait=true`), perhaps with a model fault. */
  | { kind: 'signal' | 'update'; fault: FaultKind | null }
  /** The same id as an earlier message (`of` indexes the schedule's messages so far), sent again. */
  | { kind: 'dupSignal' | 'dupUpdate'; of: number }
  /** Several signals back to back: the lines of one thought. */
  | { kind: 'burst'; size: number }
  | { kind: 'close' }
  | { kind: 'reset' }
  /** Time passing: long enough, and an idle agent's run ends (and a pending approval expires, 1 s). */
  | { kind: 'pause'; ms: number }
  /** A message whose tool call needs an operator's approval (it waits, or expires after 1 s). */
  | { kind: 'toolCall' }
  /** An operator approves or rejects the call waiting, if one is. */
  | { kind: 'decide'; approve: boolean }
  /** An operator takes the conversation over, replies to the customer, hands it back. */
  | { kind: 'takeOver' }
  | { kind: 'operatorReply' }
  | { kind: 'handBack' };

export interface AgentShape {
  continueAsNewAfterTurns: 1 | 2 | 3 | 500;
  idle: boolean;
  burst: boolean;
}

export interface Schedule {
  agent: AgentShape;
  /** Gap before each action, in ms (0: at once). */
  steps: { gapMs: number; action: Action }[];
}

/**
 * Fault kinds in the default generator. `lose_answer` (the emulator applies the request, then the
 * answer is lost) is included: the model step re-sends and the turn is still answered once.
 */
export const DEFAULT_FAULTS: readonly FaultKind[] = [
  'rate_limit',
  'server_error',
  'drop_connection',
  'latency',
  'lose_answer',
];

export function scheduleArbitrary(faults: readonly FaultKind[] = DEFAULT_FAULTS): fc.Arbitrary<Schedule> {
  // One message in four meets a fault: more stack up on one batch and the retries' backoff (1, 2, 4,
  // 8 s) makes a schedule slow without finding more.
  const fault: fc.Arbitrary<FaultKind | null> = fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    {
      weight: faults.length ? 1 : 0,
      arbitrary: faults.length ? fc.constantFrom(...faults) : fc.constant(null),
    },
  );
  const action: fc.Arbitrary<Action> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('signal' as const), fault }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('update' as const), fault }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('dupSignal' as const), of: fc.nat(7) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('dupUpdate' as const), of: fc.nat(7) }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('burst' as const), size: fc.integer({ min: 2, max: 3 }) }),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'close' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'reset' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 100, max: 1_300 }) }),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'toolCall' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('decide' as const), approve: fc.boolean() }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'takeOver' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'operatorReply' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'handBack' as const }) },
  );
  const step = fc.record({ gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 250 })), action });
  // Half the schedules end with a close soon after the last message: it lands during a turn.
  const closing = fc.option(
    fc.record({ gapMs: fc.integer({ min: 0, max: 120 }), action: fc.constant({ kind: 'close' as const }) }),
    { nil: undefined, freq: 2 },
  );
  return fc
    .record({
      agent: fc.record({
        continueAsNewAfterTurns: fc.constantFrom(1 as const, 2 as const, 3 as const, 500 as const),
        idle: fc.boolean(),
        burst: fc.boolean(),
      }),
      steps: fc.array(step, { minLength: 1, maxLength: 8 }),
      closing,
    })
    .map(({ agent, steps, closing }) => ({ agent, steps: closing ? [...steps, closing] : steps }));
}

export function agentName(shape: AgentShape): string {
  return `sched-c${shape.continueAsNewAfterTurns}-i${shape.idle ? 1 : 0}-b${shape.burst ? 1 : 0}`;
}

/** Every agent shape the generator can pick, so one worker registers them all. */
export function allAgentShapes(): AgentShape[] {
  const shapes: AgentShape[] = [];
  for (const continueAsNewAfterTurns of [1, 2, 3, 500] as const)
    for (const idle of [false, true])
      for (const burst of [false, true]) shapes.push({ continueAsNewAfterTurns, idle, burst });
  return shapes;
}

/** The schedules of one seeded run: the same seed gives the same schedules, index for index. */
export function schedulesFor(seed: number, count: number, faults?: readonly FaultKind[]): Schedule[] {
  return fc.sample(scheduleArbitrary(faults), { seed, numRuns: count });
}
