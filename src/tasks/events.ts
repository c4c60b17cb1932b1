import { z } from 'zod';
import { dateTime, eventOf, graphqlEnum, id, unread } from '../events/payload.js';
import type { ResolversParentTypes, ResolversUnionTypes, TaskStatus } from '../generated/graphql.js';

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

const taskStatus = graphqlEnum<TaskStatus>({ TODO: true, IN_PROGRESS: true, BLOCKED: true, DONE: true });

const note = z.object({ id, authorId: id, text: z.string(), createdAt: dateTime });

/** A `TaskRecord` as every task event carries it; {@link matchesTaskEvent} reads its id and assignee. */
const task = z.object({
  id,
  orgId: unread<string>(),
  seq: unread<number>(),
  title: z.string(),
  description: z.string().nullable(),
  assigneeId: id.nullable(),
  status: taskStatus,
  progress: z.int().min(0).max(100),
  notes: z.array(note),
  createdAt: dateTime,
  updatedAt: dateTime,
});

/** What an organisation's task channel may carry: checked by the bus before any subscriber's filter sees it. */
export const taskEventSchema = z.discriminatedUnion('__typename', [
  eventOf('TaskCreated', { task }),
  eventOf('TaskAssigned', { task, previousAssigneeId: id.nullable() }),
  eventOf('TaskUpdated', { task }),
  eventOf('TaskStatusChanged', { task, status: taskStatus }),
  eventOf('TaskProgressChanged', { task, progress: z.int().min(0).max(100) }),
  eventOf('TaskCompleted', { task }),
  eventOf('TaskNoteAdded', { task, note }),
]);
