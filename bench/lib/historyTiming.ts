// A CommonJS package: under plain Node ESM only its default export is reliable.
import proto from '@temporalio/proto';

const { temporal } = proto;
const { EventType } = temporal.api.enums.v1;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/**
 * Where one turn's time goes, read from the timestamps in its workflow history: from the update's
 * acceptance to its completion, split into time spent waiting for a worker to pick a task up
 * (dispatch), running activities, and running workflow tasks.
 */
export interface TurnTiming {
  totalMs: number;
  activities: number;
  activityRunMs: number;
  activityDispatchMs: number;
  workflowTasks: number;
  workflowTaskRunMs: number;
  workflowTaskDispatchMs: number;
  /** Local activities (their markers): they run inside the workflow tasks, whose time includes theirs. */
  localActivities?: number;
}

const ms = (e: HistoryEvent | undefined): number => {
  const t = e?.eventTime;
  return t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : 0;
};

/** The last turn in `events`: from its UPDATE_ACCEPTED to the UPDATE_COMPLETED after it. */
export function lastTurnTiming(events: HistoryEvent[]): TurnTiming | undefined {
  let start = -1;
  for (let i = events.length - 1; i >= 0; i--) {
    if (events[i]!.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
      start = i;
      break;
    }
  }
  if (start < 0) return undefined;
  const turn = events.slice(start);
  const end = turn.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
  if (end < 0) return undefined;
  const byId = new Map(turn.map((e) => [Number(e.eventId), e]));
  const timing: TurnTiming = {
    totalMs: ms(turn[end]) - ms(turn[0]),
    activities: 0,
    activityRunMs: 0,
    activityDispatchMs: 0,
    workflowTasks: 0,
    workflowTaskRunMs: 0,
    workflowTaskDispatchMs: 0,
    localActivities: 0,
  };
  for (const e of turn.slice(0, end + 1)) {
    if (
      e.eventType === EventType.EVENT_TYPE_MARKER_RECORDED &&
      e.markerRecordedEventAttributes?.markerName === 'core_local_activity'
    )
      timing.localActivities = (timing.localActivities ?? 0) + 1;
    if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const a = e.activityTaskCompletedEventAttributes!;
      const scheduled = byId.get(Number(a.scheduledEventId));
      const started = byId.get(Number(a.startedEventId));
      timing.activities++;
      timing.activityDispatchMs += ms(started) - ms(scheduled);
      timing.activityRunMs += ms(e) - ms(started);
    }
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      const a = e.workflowTaskCompletedEventAttributes!;
      const scheduled = byId.get(Number(a.scheduledEventId));
      const started = byId.get(Number(a.startedEventId));
      timing.workflowTasks++;
      timing.workflowTaskDispatchMs += ms(started) - ms(scheduled);
      timing.workflowTaskRunMs += ms(e) - ms(started);
    }
  }
  return timing;
}
