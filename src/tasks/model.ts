import type { TaskStatus } from '../generated/graphql.js';

/** A note on a task as stored (inside its task: notes are only ever appended). */
export interface TaskNoteRecord {
  id: string;
  authorId: string;
  text: string;
  createdAt: string;
}

/** A task as stored. */
export interface TaskRecord {
  id: string;
  orgId: string;
  /** Creation order within the organisation: the score of every index entry, and the paging cursor. */
  seq: number;
  title: string;
  description: string | null;
  assigneeId: string | null;
  status: TaskStatus;
  progress: number;
  /** Oldest first, at most {@link TASK_LIMITS}.notes. */
  notes: TaskNoteRecord[];
  /**
   * Only on an event's copy, never stored: how many notes the task holds,
   * since that copy carries only the note the event added.
   */
  noteCount?: number;
  createdAt: string;
  updatedAt: string;
}

/** The documented bounds of a task's fields (see `schema/tasks.graphql`). */
export const TASK_LIMITS = {
  title: 200,
  description: 10_000,
  note: 4000,
  /** Notes travel inside the task, so they are bounded (events carry only the one they add). */
  notes: 200,
  /** `tasks(limit:)`: default and largest page. */
  pageDefault: 100,
  pageMax: 500,
} as const;
