import type { Viewer } from '../auth/viewer.js';
import { badInput, notFound } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { subscribe } from '../events/subscribe.js';
import { topics } from '../events/topics.js';
import type { CreateTaskInput, TaskStatus, UpdateTaskInput } from '../generated/graphql.js';
import { changeEvent } from '../events/change-event.js';
import { createOnce, idempotencyKey, idempotencyScope } from '../lib/idempotency.js';
import { now } from '../lib/ids.js';
import { keyPart } from '../lib/keys.js';
import { optionalText, requireId, requireIntInRange, requireText, requireUserId, textOrNull } from '../lib/validate.js';
import type { IndexEntry, Storage } from '../storage/index.js';
import { assertCanChangeTasks, canSeeTask } from './access.js';
import { carryingChange, matchesTaskEvent, type TaskEvent, type TaskEventSelection } from './events.js';
import { TASK_LIMITS, type TaskNoteRecord, type TaskRecord } from './model.js';
import type { AccessSignal } from '../lib/access-signal.js';

/** Tasks: state, authorization and events, whatever the transport. */
export type TaskService = ReturnType<typeof createTaskService>;

/** Which tasks `tasks(...)` lists: the organisation's, narrowed by assignee and/or status. */
export interface TaskFilter {
  assigneeId?: string | null;
  status?: TaskStatus | null;
}

/** The ordered index holding exactly the tasks of `orgId` that match `filter`. */
const indexFor = (orgId: string, { assigneeId, status }: TaskFilter) =>
  [
    `org:${keyPart(orgId)}`,
    ...(assigneeId != null ? [`assignee:${keyPart(assigneeId)}`] : []),
    ...(status ? [`status:${status}`] : []),
  ].join(':');

/**
 * Every index a task belongs in, so that each filter of `tasks(...)` reads
 * one index; moved together with the task on every change.
 */
const indexesOf = (task: TaskRecord): IndexEntry[] =>
  [
    {},
    { status: task.status },
    ...(task.assigneeId === null
      ? []
      : [{ assigneeId: task.assigneeId }, { assigneeId: task.assigneeId, status: task.status }]),
  ].map((filter) => ({ index: indexFor(task.orgId, filter), score: task.seq }));

/** A description as given: trimmed, empty means none. */
const description = (value: string) => textOrNull('description', value, { max: TASK_LIMITS.description });

/** Creates the tasks domain over a storage backend and an event bus. */
export function createTaskService({ storage, bus }: { storage: Storage; bus: EventBus }) {
  /** An organisation's tasks (in its own slot on a Redis Cluster). */
  const tasks = (orgId: string) => storage.forOrg(orgId).collection<TaskRecord>('tasks');

  /** Task events, to record with the change that produces them. */
  const recorded = (orgId: string, events: TaskEvent[]) =>
    events.map((event) => changeEvent(topics.tasks(orgId), carryingChange(event)));

  /** The task if it is one of the viewer's organisation's; NOT_FOUND otherwise (missing and foreign read the same). */
  const getVisible = async (viewer: Viewer, id: string): Promise<TaskRecord> => {
    requireId('id', id);
    const task = await tasks(viewer.orgId).get(id);
    if (!task || !canSeeTask(viewer, task)) throw notFound('Task', id);
    return task;
  };

  /**
   * Applies `apply` atomically to a visible task, stamping `updatedAt` and
   * moving its index entries with it; `apply` returns undefined for a change
   * that changes nothing. The caller has checked the viewer's role. The
   * events `events` makes of the change are recorded with it.
   */
  const change = async (
    viewer: Viewer,
    id: string,
    apply: (task: TaskRecord, updatedAt: string) => TaskRecord | undefined,
    events: (after: TaskRecord, before: TaskRecord) => TaskEvent[],
  ) => {
    requireId('id', id);
    const updatedAt = now();
    const result = await tasks(viewer.orgId).update(
      id,
      (task) => {
        if (!canSeeTask(viewer, task)) return undefined;
        const next = apply(task, updatedAt);
        return next && { ...next, updatedAt };
      },
      indexesOf,
      (after, before) => recorded(after.orgId, events(after, before)),
    );
    if (!result || !canSeeTask(viewer, result.before)) throw notFound('Task', id);
    return result;
  };

  const assigned = (task: TaskRecord, previousAssigneeId: string | null): TaskEvent => ({
    __typename: 'TaskAssigned',
    task,
    previousAssigneeId,
    occurredAt: task.updatedAt,
  });

  return {
    get: getVisible,

    /** The organisation's tasks matching `filter`, newest first, a page at a time. */
    async list(
      viewer: Viewer,
      { limit, before, ...filter }: TaskFilter & { limit?: number | null; before?: string | null },
    ): Promise<TaskRecord[]> {
      if (filter.assigneeId != null) requireUserId('assigneeId', filter.assigneeId);
      const pageSize = requireIntInRange('limit', limit ?? TASK_LIMITS.pageDefault, {
        min: 1,
        max: TASK_LIMITS.pageMax,
      });
      const below = before == null ? undefined : (await getVisible(viewer, requireId('before', before))).seq;
      return tasks(viewer.orgId).list(indexFor(viewer.orgId, filter), { order: 'desc', below, limit: pageSize });
    },

    /** Creates a task; with an idempotency key, a repeat returns the first call's task. */
    async create(viewer: Viewer, input: CreateTaskInput, key?: string | null): Promise<TaskRecord> {
      assertCanChangeTasks(viewer);
      const title = requireText('title', input.title, { max: TASK_LIMITS.title });
      const text = input.description == null ? null : description(input.description);
      const assigneeId = input.assigneeId == null ? null : requireUserId('assigneeId', input.assigneeId);
      return createOnce(storage.forOrg(viewer.orgId), {
        claim: idempotencyScope(viewer, 'createTask', idempotencyKey(key)),
        args: { title, description: text, assigneeId },
        find: async (id) => {
          const found = await tasks(viewer.orgId).get(id);
          return found && canSeeTask(viewer, found) ? found : undefined;
        },
        create: async (id) => {
          const timestamp = now();
          const task: TaskRecord = {
            id,
            orgId: viewer.orgId,
            seq: await storage.forOrg(viewer.orgId).increment(`tasks:${keyPart(viewer.orgId)}`),
            title,
            description: text,
            assigneeId,
            status: 'TODO',
            progress: 0,
            notes: [],
            createdAt: timestamp,
            updatedAt: timestamp,
          };
          const events: TaskEvent[] = [{ __typename: 'TaskCreated', task, occurredAt: timestamp }];
          if (assigneeId !== null) events.push(assigned(task, null));
          return (await tasks(viewer.orgId).insert(task, indexesOf(task), recorded(task.orgId, events)))
            ? task
            : undefined;
        },
      });
    },

    async update(viewer: Viewer, id: string, input: UpdateTaskInput): Promise<TaskRecord> {
      assertCanChangeTasks(viewer);
      const title = optionalText('title', input.title, { max: TASK_LIMITS.title });
      const text = input.description == null ? undefined : description(input.description);
      const { after } = await change(
        viewer,
        id,
        (task) => {
          const next = {
            ...task,
            title: title ?? task.title,
            description: text === undefined ? task.description : text,
          };
          return next.title === task.title && next.description === task.description ? undefined : next;
        },
        (task) => [{ __typename: 'TaskUpdated', task, occurredAt: task.updatedAt }],
      );
      return after;
    },

    /** Assigns the task to `assigneeId`, or unassigns it when null. */
    async assign(viewer: Viewer, id: string, assigneeId: string | null | undefined): Promise<TaskRecord> {
      assertCanChangeTasks(viewer);
      const next = assigneeId == null ? null : requireUserId('assigneeId', assigneeId);
      const { after } = await change(
        viewer,
        id,
        (task) => (task.assigneeId === next ? undefined : { ...task, assigneeId: next }),
        (task, before) => [assigned(task, before.assigneeId)],
      );
      return after;
    },

    async setStatus(viewer: Viewer, id: string, status: TaskStatus): Promise<TaskRecord> {
      assertCanChangeTasks(viewer);
      const { after } = await change(
        viewer,
        id,
        (task) => (task.status === status ? undefined : { ...task, status }),
        (task) => {
          const events: TaskEvent[] = [{ __typename: 'TaskStatusChanged', task, status, occurredAt: task.updatedAt }];
          if (status === 'DONE') events.push({ __typename: 'TaskCompleted', task, occurredAt: task.updatedAt });
          return events;
        },
      );
      return after;
    },

    async setProgress(viewer: Viewer, id: string, progress: number): Promise<TaskRecord> {
      assertCanChangeTasks(viewer);
      requireIntInRange('progress', progress, { min: 0, max: 100 });
      const { after } = await change(
        viewer,
        id,
        (task) => (task.progress === progress ? undefined : { ...task, progress }),
        (task) => [{ __typename: 'TaskProgressChanged', task, progress, occurredAt: task.updatedAt }],
      );
      return after;
    },

    /**
     * Adds a note; with an idempotency key, a repeat finds the note already
     * on the task (its id is the key's) and adds nothing.
     */
    async addNote(viewer: Viewer, id: string, text: string, key?: string | null): Promise<TaskRecord> {
      assertCanChangeTasks(viewer);
      requireId('id', id);
      const noteText = requireText('text', text, { max: TASK_LIMITS.note });
      return createOnce(storage.forOrg(viewer.orgId), {
        claim: idempotencyScope(viewer, 'addTaskNote', idempotencyKey(key)),
        args: { id, text: noteText },
        find: async (noteId) => {
          const task = await getVisible(viewer, id);
          return task.notes.some((note) => note.id === noteId) ? task : undefined;
        },
        create: async (noteId) => {
          const { after, changed } = await change(
            viewer,
            id,
            (task, createdAt) => {
              if (task.notes.some((note) => note.id === noteId)) return undefined;
              if (task.notes.length >= TASK_LIMITS.notes) {
                throw badInput(`A task holds at most ${TASK_LIMITS.notes} notes`, 'text');
              }
              return {
                ...task,
                notes: [...task.notes, { id: noteId, authorId: viewer.id, text: noteText, createdAt }],
              };
            },
            (task) => {
              const note = task.notes.at(-1)!;
              return [{ __typename: 'TaskNoteAdded', task, note, occurredAt: note.createdAt }];
            },
          );
          return changed ? after : undefined;
        },
      });
    },

    /**
     * A page of a task's notes, oldest first: the `limit` newest ones
     * before the note `before` (exclusive), or the newest without it.
     */
    notes(task: TaskRecord, { limit, before }: { limit?: number | null; before?: string | null }): TaskNoteRecord[] {
      const count = requireIntInRange('limit', limit ?? TASK_LIMITS.notes, { min: 1, max: TASK_LIMITS.notes });
      let end = task.notes.length;
      if (before != null) {
        end = task.notes.findIndex((note) => note.id === requireId('before', before));
        if (end === -1) throw notFound('Note', before);
      }
      return task.notes.slice(Math.max(0, end - count), end);
    },

    /** Live events of the viewer's organisation's tasks that match `selection`; ends when `signal` aborts. */
    async subscribe(viewer: Viewer, selection: TaskEventSelection, signal?: AccessSignal) {
      if (selection.assigneeId != null) requireUserId('assigneeId', selection.assigneeId);
      if (selection.taskId != null) await getVisible(viewer, selection.taskId);
      return subscribe(bus, topics.tasks(viewer.orgId), {
        signal,
        filter: (event) => matchesTaskEvent(event, selection),
      });
    },
  };
}
