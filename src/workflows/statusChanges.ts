/**
 * The conversation's ThreadlineStatus search attribute, as operators search it in the Temporal UI:
 * what the conversation waits on. Plain TypeScript, unit-tested; statusAttribute.ts writes it.
 *
 * Since the patch 'quiet-turns' a value is written only when it changes, and a turn's start
 * writes nothing: a turn is over in a fraction of a second, so 'running' was stale in any search,
 * while each write cost a history event and a visibility update, twice a turn. 'running' is still
 * written when a turn leaves an approval wait, so 'awaiting_approval' does not outlive the wait.
 * Runs recorded before the patch wrote every value, each turn: they replay that way.
 */
export type StatusValue = 'idle' | 'running' | 'failed' | 'awaiting_approval' | 'closed';

export class StatusChanges {
  private current: StatusValue | null = null;

  constructor(readonly quiet: boolean) {}

  /** The value to write now, or null when nothing needs writing. */
  next(status: StatusValue): StatusValue | null {
    const previous = this.current;
    if (this.quiet && status === 'running' && previous !== 'awaiting_approval') return null;
    if (this.quiet && status === previous) return null;
    this.current = status;
    return status;
  }
}
