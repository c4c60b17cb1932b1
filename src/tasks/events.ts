import type { ResolversParentTypes, ResolversUnionTypes } from '../generated/graphql.js';

/** What `taskEvents` streams, exactly as published on the organisation's task channel. */
export type TaskEvent = ResolversUnionTypes<ResolversParentTypes>['TaskEvent'];

/** What a `taskEvents` subscriber asked for; absent fields match everything. */
export interface TaskEventSelection {
  taskId?: string | null;
  assigneeId?: string | null;
}

/**
 * True when `event` belongs to the subscriber's selection. An assignee's
 * selection also matches the `TaskAssigned` that takes a task away from
 * them, so a personal board learns that the card has left.
 */
export function matchesTaskEvent(event: TaskEvent, { taskId, assigneeId }: TaskEventSelection): boolean {
  if (taskId != null && event.task.id !== taskId) return false;
  if (assigneeId == null || event.task.assigneeId === assigneeId) return true;
  return event.__typename === 'TaskAssigned' && event.previousAssigneeId === assigneeId;
}
