import { describe, expect, it } from 'vitest';
import {
  BACKENDS,
  ok,
  startCluster,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type Subscription,
} from '../support/harness.js';
import {
  ASSIGN,
  change,
  createTask,
  EVENTS,
  listIds,
  NOTE,
  PROGRESS,
  STATUS,
  TASK,
  tokens,
  UPDATE,
  type Task,
} from './operations.js';

/** Events without `occurredAt`, after checking it is the time of the change they report. */
function withoutTimes(events: any[]) {
  return events.map(({ occurredAt, ...event }) => {
    expect(occurredAt).toBe(event.note?.createdAt ?? event.task.updatedAt);
    return event;
  });
}

/** A task as an event carries it: only the note that event added, if any (`noteCount` counts them all). */
function carried(task: Task, added?: Task['notes'][number]) {
  return { ...task, notes: added ? [added] : [] };
}

/** Waits for `count` events and checks that no other event arrived before them. */
async function exactly(subscription: Subscription, count: number) {
  const events = await subscription.waitForEvents(count);
  expect(events).toHaveLength(count);
  return withoutTimes(events);
}

describe.each(BACKENDS)('task events on the %s backend', (backend) => {
  it('shows a task board every event of every task of its organisation, and no-op changes none', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const board = await subscribeWs(server, wsClient(server, t.member), EVENTS);
    const foreignBoard = await subscribeWs(server, wsClient(server, t.foreignAdmin), EVENTS);

    const created = await createTask(server, t.agent, { title: 'Ship it', assigneeId: 'user-1' });
    const updated = await change(server, t.agent, UPDATE, { id: created.id, input: { description: 'Today' } });
    await change(server, t.agent, UPDATE, { id: created.id, input: { description: 'Today' } });
    const started = await change(server, t.agent, STATUS, { id: created.id, status: 'IN_PROGRESS' });
    await change(server, t.agent, STATUS, { id: created.id, status: 'IN_PROGRESS' });
    const progressed = await change(server, t.admin, PROGRESS, { id: created.id, progress: 40 });
    await change(server, t.admin, PROGRESS, { id: created.id, progress: 40 });
    const noted = await change(server, t.agent, NOTE, { id: created.id, text: 'Halfway' });
    const reassigned = await change(server, t.agent, ASSIGN, { id: created.id, assigneeId: 'user-2' });
    await change(server, t.agent, ASSIGN, { id: created.id, assigneeId: 'user-2' });
    const unassigned = await change(server, t.agent, ASSIGN, { id: created.id, assigneeId: null });
    const done = await change(server, t.agent, STATUS, { id: created.id, status: 'DONE' });
    await change(server, t.agent, STATUS, { id: created.id, status: 'DONE' });
    const other = await createTask(server, t.admin, { title: 'Another' });

    // `other` comes right after `done`: no no-op change published anything in between.
    expect(await exactly(board, 11)).toEqual([
      { __typename: 'TaskCreated', task: carried(created) },
      { __typename: 'TaskAssigned', task: carried(created), previousAssigneeId: null },
      { __typename: 'TaskUpdated', task: carried(updated) },
      { __typename: 'TaskStatusChanged', task: carried(started), status: 'IN_PROGRESS' },
      { __typename: 'TaskProgressChanged', task: carried(progressed), progress: 40 },
      { __typename: 'TaskNoteAdded', task: carried(noted, noted.notes[0]), note: noted.notes[0] },
      { __typename: 'TaskAssigned', task: carried(reassigned), previousAssigneeId: 'user-1' },
      { __typename: 'TaskAssigned', task: carried(unassigned), previousAssigneeId: 'user-2' },
      { __typename: 'TaskStatusChanged', task: carried(done), status: 'DONE' },
      { __typename: 'TaskCompleted', task: carried(done) },
      { __typename: 'TaskCreated', task: carried(other) },
    ]);

    // The other organisation's board saw none of it: its first event is its own task.
    const foreign = await createTask(server, t.foreignAdmin, { title: 'Theirs' });
    expect(await exactly(foreignBoard, 1)).toEqual([{ __typename: 'TaskCreated', task: carried(foreign) }]);
  });

  it('shows a subscriber to one task that task\u2019s events only', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const watched = await createTask(server, t.agent, { title: 'Watched' });
    const ignored = await createTask(server, t.agent, { title: 'Ignored' });
    const subscription = await subscribeWs(server, wsClient(server, t.service), EVENTS, { taskId: watched.id });

    await change(server, t.agent, PROGRESS, { id: ignored.id, progress: 5 });
    await change(server, t.agent, STATUS, { id: ignored.id, status: 'DONE' });
    const progressed = await change(server, t.agent, PROGRESS, { id: watched.id, progress: 5 });
    await change(server, t.agent, NOTE, { id: ignored.id, text: 'Not for you' });
    const done = await change(server, t.agent, STATUS, { id: watched.id, status: 'DONE' });

    expect(await exactly(subscription, 3)).toEqual([
      { __typename: 'TaskProgressChanged', task: carried(progressed), progress: 5 },
      { __typename: 'TaskStatusChanged', task: carried(done), status: 'DONE' },
      { __typename: 'TaskCompleted', task: carried(done) },
    ]);
  });

  it('shows an assignee\u2019s subscriber the tasks assigned to them, including the move that takes one away', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const mine = await subscribeWs(server, wsClient(server, t.member), EVENTS, { assigneeId: 'user-1' });

    const first = await createTask(server, t.agent, { title: 'First', assigneeId: 'user-1' });
    const second = await createTask(server, t.agent, { title: 'Second', assigneeId: 'user-2' });
    await change(server, t.agent, PROGRESS, { id: second.id, progress: 10 });
    const movedIn = await change(server, t.agent, ASSIGN, { id: second.id, assigneeId: 'user-1' });
    const secondMine = await subscribeWs(server, wsClient(server, t.member), EVENTS, {
      taskId: second.id,
      assigneeId: 'user-1',
    });
    const progressed = await change(server, t.agent, PROGRESS, { id: second.id, progress: 20 });
    const movedOut = await change(server, t.agent, ASSIGN, { id: first.id, assigneeId: 'user-2' });
    await change(server, t.agent, PROGRESS, { id: first.id, progress: 50 });
    await change(server, t.agent, NOTE, { id: first.id, text: 'No longer yours' });
    const released = await change(server, t.agent, ASSIGN, { id: second.id, assigneeId: null });
    await change(server, t.agent, PROGRESS, { id: second.id, progress: 30 });
    const back = await change(server, t.agent, ASSIGN, { id: first.id, assigneeId: 'user-1' });

    expect(await exactly(mine, 7)).toEqual([
      { __typename: 'TaskCreated', task: carried(first) },
      { __typename: 'TaskAssigned', task: carried(first), previousAssigneeId: null },
      { __typename: 'TaskAssigned', task: carried(movedIn), previousAssigneeId: 'user-2' },
      { __typename: 'TaskProgressChanged', task: carried(progressed), progress: 20 },
      { __typename: 'TaskAssigned', task: carried(movedOut), previousAssigneeId: 'user-1' },
      { __typename: 'TaskAssigned', task: carried(released), previousAssigneeId: 'user-1' },
      { __typename: 'TaskAssigned', task: carried(back), previousAssigneeId: 'user-2' },
    ]);
    expect(movedOut.assigneeId).toBe('user-2');
    expect(released.assigneeId).toBeNull();
    // Both arguments: events of that task while (or as) it is the assignee's.
    expect(await exactly(secondMine, 2)).toEqual([
      { __typename: 'TaskProgressChanged', task: carried(progressed), progress: 20 },
      { __typename: 'TaskAssigned', task: carried(released), previousAssigneeId: 'user-1' },
    ]);
  });
});

describe.each(BACKENDS)('task events\u2019 size on the %s backend', (backend) => {
  it('carries the added note, not every note: an event stays small however many notes the task holds', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const task = await createTask(server, t.agent, { title: 'Long discussion' });
    const long = (i: number) => `${i} `.padEnd(4000, 'x');
    for (let i = 1; i <= 40; i++) await change(server, t.agent, NOTE, { id: task.id, text: long(i) });
    const board = await subscribeWs(server, wsClient(server, t.member), EVENTS, { taskId: task.id });

    const noted = await change(server, t.agent, NOTE, { id: task.id, text: 'The last word' });
    const done = await change(server, t.agent, STATUS, { id: task.id, status: 'DONE' });
    expect(noted.notes).toHaveLength(41);
    expect(noted.noteCount).toBe(41);

    const events = await exactly(board, 3);
    expect(events).toEqual([
      { __typename: 'TaskNoteAdded', task: carried(noted, noted.notes[40]), note: noted.notes[40] },
      { __typename: 'TaskStatusChanged', task: carried(done), status: 'DONE' },
      { __typename: 'TaskCompleted', task: carried(done) },
    ]);
    expect(events.map((event) => event.task.noteCount)).toEqual([41, 41, 41]);
    // 41 notes of 4,000 characters would be 160 KB per event; what changed fits in 1 KB.
    for (const event of events) expect(JSON.stringify(event).length).toBeLessThan(1024);
    // The task itself still has every note.
    const read = (await ok(server, TASK, { id: task.id }, t.member)).task as Task;
    expect(read.notes.map((note) => note.text)).toEqual(noted.notes.map((note) => note.text));
  });
});

describe('tasks across instances', () => {
  it('delivers every event to boards on another instance, and keeps lists right under concurrent reassignment', async () => {
    const [a, b] = await startCluster(2);
    const t = await tokens();
    const task = await createTask(a!, t.agent, { title: 'Shared', assigneeId: 'user-0' });
    const board = await subscribeWs(a!, wsClient(a!, t.member), EVENTS);
    const personal = await subscribeWs(b!, wsClient(b!, await tokenFor(user('user-7', []))), EVENTS, {
      assigneeId: 'user-7',
    });

    const assignees = Array.from({ length: 20 }, (_, i) => `user-${i + 1}`);
    const results = await Promise.all(
      assignees.map((assigneeId, i) => change(i % 2 ? a! : b!, t.agent, ASSIGN, { id: task.id, assigneeId })),
    );
    expect(results.map((result) => result.assigneeId).sort()).toEqual([...assignees].sort());
    const final = (await ok(b!, `query ($id: ID!) { task(id: $id) { assigneeId } }`, task, t.member)).task;
    for (const assigneeId of ['user-0', ...assignees]) {
      const listed = await listIds(assigneeId.length % 2 ? a! : b!, t.member, { assigneeId });
      expect(listed, assigneeId).toEqual(assigneeId === final.assigneeId ? [task.id] : []);
      const todo = await listIds(a!, t.member, { assigneeId, status: 'TODO' });
      expect(todo, assigneeId).toEqual(assigneeId === final.assigneeId ? [task.id] : []);
    }

    // Every reassignment was a change (each names a new assignee), so each was published once.
    const assigned = (await board.waitForEvents(20)).map((event) => (event as { task: Task }).task.assigneeId);
    expect(assigned.sort()).toEqual([...assignees].sort());

    const last = await change(b!, t.agent, ASSIGN, { id: task.id, assigneeId: 'user-99' });
    const done = await change(b!, t.admin, STATUS, { id: task.id, status: 'DONE' });
    const events = await board.waitForEvents(23);
    expect(withoutTimes(events.slice(20))).toEqual([
      { __typename: 'TaskAssigned', task: carried(last), previousAssigneeId: final.assigneeId },
      { __typename: 'TaskStatusChanged', task: carried(done), status: 'DONE' },
      { __typename: 'TaskCompleted', task: carried(done) },
    ]);
    // user-7's board saw the task arrive and leave, once each, and nothing of the others. (Concurrent
    // changes on two instances may publish in either order, so this does not depend on which came first.)
    const mine = await personal.waitForEvents(2);
    expect(mine.map((event) => event.__typename)).toEqual(['TaskAssigned', 'TaskAssigned']);
    expect(mine.filter((event) => event.task.assigneeId === 'user-7')).toHaveLength(1);
    expect(mine.filter((event) => event.previousAssigneeId === 'user-7')).toHaveLength(1);
    expect(await listIds(a!, t.member, { assigneeId: 'user-99', status: 'DONE' })).toEqual([task.id]);
  });
});
