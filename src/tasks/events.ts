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

/**
 * An event as it travels and is kept for resume: its task carries only the
 * note the event added (none for other events) and how many notes the task
 * holds, not all of them (up to 200 of 4000 characters each).
 */
export function carryingChange(event: TaskEvent): TaskEvent {
  const notes = event.__typename === 'TaskNoteAdded' ? [event.note] : [];
  return { ...event, task: { ...event.task, notes, noteCount: event.task.notes.length } };
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
  noteCount: z.int().min(0).optional(),
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
