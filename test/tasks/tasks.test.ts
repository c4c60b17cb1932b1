import { describe, expect, it } from 'vitest';
import {
  BACKENDS,
  errorCode,
  gql,
  ok,
  startTestServer,
  subscribeWs,
  wsClient,
  type GraphQLResponse,
} from '../support/harness.js';
import {
  ASSIGN,
  change,
  CREATE,
  createTask,
  EVENTS,
  listIds,
  NOTE,
  PROGRESS,
  STATUS,
  TASK,
  tokens,
  UPDATE,
} from './operations.js';

const MISSING_ID = '00000000-0000-0000-0000-000000000000';

/** Every mutation on an existing task, with valid values. */
const MUTATIONS: [string, string, Record<string, unknown>][] = [
  ['updateTask', UPDATE, { input: { title: 'Renamed' } }],
  ['assignTask', ASSIGN, { assigneeId: 'user-9' }],
  ['setTaskStatus', STATUS, { status: 'IN_PROGRESS' }],
  ['setTaskProgress', PROGRESS, { progress: 10 }],
  ['addTaskNote', NOTE, { text: 'A note' }],
];

describe.each(BACKENDS)('tasks on the %s backend', (backend) => {
  it('creates tasks and lists them newest first, filtered by assignee and status, a page at a time', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const t1 = await createTask(server, t.agent, {
      title: '  Write the report  ',
      description: '  Quarterly numbers\n',
      assigneeId: 'user-1',
    });
    expect(t1).toMatchObject({
      title: 'Write the report',
      description: 'Quarterly numbers',
      assigneeId: 'user-1',
      status: 'TODO',
      progress: 0,
      notes: [],
    });
    expect(new Date(t1.createdAt).toISOString()).toBe(t1.createdAt);
    expect(t1.updatedAt).toBe(t1.createdAt);
    const t2 = await createTask(server, t.admin, { title: 'Unassigned', description: '   ' });
    expect(t2).toMatchObject({ description: null, assigneeId: null });
    const t3 = await createTask(server, t.agent, { title: 'Third', assigneeId: 'user-2' });
    const t4 = await createTask(server, t.agent, { title: 'Fourth', assigneeId: 'user-1' });
    await change(server, t.agent, STATUS, { id: t4.id, status: 'IN_PROGRESS' });

    // Any member reads, whatever their roles.
    const read = await ok(server, TASK, { id: t1.id }, t.member);
    expect(read.task).toEqual(t1);
    expect(await listIds(server, t.member)).toEqual([t4.id, t3.id, t2.id, t1.id]);
    expect(await listIds(server, t.service, { assigneeId: 'user-1' })).toEqual([t4.id, t1.id]);
    expect(await listIds(server, t.member, { status: 'TODO' })).toEqual([t3.id, t2.id, t1.id]);
    expect(await listIds(server, t.member, { assigneeId: 'user-1', status: 'IN_PROGRESS' })).toEqual([t4.id]);
    expect(await listIds(server, t.member, { assigneeId: 'user-1', status: 'TODO' })).toEqual([t1.id]);
    expect(await listIds(server, t.member, { assigneeId: 'user-3' })).toEqual([]);
    expect(await listIds(server, t.member, { status: 'DONE' })).toEqual([]);

    expect(await listIds(server, t.member, { limit: 2 })).toEqual([t4.id, t3.id]);
    expect(await listIds(server, t.member, { limit: 2, before: t3.id })).toEqual([t2.id, t1.id]);
    expect(await listIds(server, t.member, { limit: 2, before: t1.id })).toEqual([]);
    expect(await listIds(server, t.member, { assigneeId: 'user-1', limit: 1, before: t4.id })).toEqual([t1.id]);

    expect(await listIds(server, t.foreignAdmin)).toEqual([]);
    expect(await listIds(server, t.foreignAdmin, { assigneeId: 'user-1' })).toEqual([]);
  });

  it('moves tasks between the assignee and status lists as they change', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const task = await createTask(server, t.agent, { title: 'Moving', assigneeId: 'user-1' });
    await change(server, t.agent, ASSIGN, { id: task.id, assigneeId: 'user-2' });
    expect(await listIds(server, t.member, { assigneeId: 'user-1' })).toEqual([]);
    expect(await listIds(server, t.member, { assigneeId: 'user-2', status: 'TODO' })).toEqual([task.id]);

    await change(server, t.admin, ASSIGN, { id: task.id, assigneeId: null });
    expect(await listIds(server, t.member, { assigneeId: 'user-2' })).toEqual([]);
    expect(await listIds(server, t.member, { assigneeId: 'user-2', status: 'TODO' })).toEqual([]);
    expect(await listIds(server, t.member)).toEqual([task.id]);

    await change(server, t.agent, STATUS, { id: task.id, status: 'BLOCKED' });
    expect(await listIds(server, t.member, { status: 'TODO' })).toEqual([]);
    expect(await listIds(server, t.member, { status: 'BLOCKED' })).toEqual([task.id]);

    await change(server, t.agent, ASSIGN, { id: task.id, assigneeId: 'user-3' });
    await change(server, t.agent, STATUS, { id: task.id, status: 'DONE' });
    expect(await listIds(server, t.member, { assigneeId: 'user-3', status: 'DONE' })).toEqual([task.id]);
    expect(await listIds(server, t.member, { assigneeId: 'user-3', status: 'BLOCKED' })).toEqual([]);
    expect(await listIds(server, t.member, { status: 'BLOCKED' })).toEqual([]);
  });

  it('takes any user id as an assignee, and no id can spell another list', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const odd = await createTask(server, t.agent, { title: 'Odd id', assigneeId: 'google:1%2|x' });
    expect(odd.assigneeId).toBe('google:1%2|x');
    const plain = await createTask(server, t.agent, { title: 'Plain', assigneeId: 'u' });
    expect(await listIds(server, t.member, { assigneeId: 'google:1%2|x' })).toEqual([odd.id]);
    expect(await listIds(server, t.member, { assigneeId: 'u' })).toEqual([plain.id]);
    // What "u" + status TODO would read if names were joined without encoding:
    expect(await listIds(server, t.member, { assigneeId: 'u:status:TODO' })).toEqual([]);
    expect(await listIds(server, t.member, { assigneeId: 'u', status: 'TODO' })).toEqual([plain.id]);
  });

  it('changes title, description, assignee, status, progress and notes, and a no-op change changes nothing', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const task = await createTask(server, t.agent, { title: 'Draft', description: 'First words' });

    const renamed = await change(server, t.agent, UPDATE, { id: task.id, input: { title: ' Final ' } });
    expect(renamed).toMatchObject({ title: 'Final', description: 'First words' });
    expect(Date.parse(renamed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(task.updatedAt));
    const described = await change(server, t.admin, UPDATE, {
      id: task.id,
      input: { title: null, description: 'More words' },
    });
    expect(described).toMatchObject({ title: 'Final', description: 'More words' });
    const cleared = await change(server, t.agent, UPDATE, { id: task.id, input: { description: '' } });
    expect(cleared.description).toBeNull();
    const same = await change(server, t.agent, UPDATE, { id: task.id, input: { title: 'Final' } });
    expect(same).toEqual(cleared);
    expect(await change(server, t.agent, UPDATE, { id: task.id, input: {} })).toEqual(cleared);

    const assigned = await change(server, t.agent, ASSIGN, { id: task.id, assigneeId: 'user-1' });
    expect(assigned.assigneeId).toBe('user-1');
    expect(await change(server, t.agent, ASSIGN, { id: task.id, assigneeId: 'user-1' })).toEqual(assigned);

    const done = await change(server, t.agent, STATUS, { id: task.id, status: 'DONE' });
    expect(done).toMatchObject({ status: 'DONE', progress: 0 });
    expect(await change(server, t.agent, STATUS, { id: task.id, status: 'DONE' })).toEqual(done);
    const full = await change(server, t.agent, PROGRESS, { id: task.id, progress: 100 });
    expect(full).toMatchObject({ status: 'DONE', progress: 100 });
    expect(await change(server, t.agent, PROGRESS, { id: task.id, progress: 100 })).toEqual(full);
    const reopened = await change(server, t.agent, STATUS, { id: task.id, status: 'TODO' });
    expect(reopened).toMatchObject({ status: 'TODO', progress: 100 });
    const zero = await change(server, t.agent, PROGRESS, { id: task.id, progress: 0 });
    expect(zero.progress).toBe(0);

    await change(server, t.agent, NOTE, { id: task.id, text: '  Called, no answer  ' });
    const noted = await change(server, t.admin, NOTE, { id: task.id, text: 'Try again tomorrow' });
    expect(noted.notes.map(({ authorId, text }) => ({ authorId, text }))).toEqual([
      { authorId: 'agent-1', text: 'Called, no answer' },
      { authorId: 'admin-1', text: 'Try again tomorrow' },
    ]);
    expect(new Set(noted.notes.map((note) => note.id)).size).toBe(2);
    expect(noted.updatedAt).toBe(noted.notes[1]!.createdAt);
    const read = await ok(server, TASK, { id: task.id }, t.member);
    expect(read.task).toEqual(noted);
  });

  it('reports another organisation\u2019s task exactly as a missing one', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const task = await createTask(server, t.agent, { title: 'Ours', assigneeId: 'user-1' });
    const missing = await gql(server, TASK, { id: MISSING_ID }, { token: t.agent });
    expect(errorCode(missing)).toBe('NOT_FOUND');
    const sameAsMissing = (result: GraphQLResponse<unknown>) => {
      expect(errorCode(result)).toBe('NOT_FOUND');
      expect(result.errors![0]!.message).toBe(missing.errors![0]!.message.replace(MISSING_ID, task.id));
    };

    const foreignRead = await gql(server, TASK, { id: task.id }, { token: t.foreignAdmin });
    sameAsMissing(foreignRead);
    expect(foreignRead.data).toEqual({ task: null });
    sameAsMissing(await gql(server, `query ($id: ID!) { tasks(before: $id) { id } }`, task, { token: t.foreignAdmin }));
    for (const [, mutation, variables] of MUTATIONS) {
      sameAsMissing(await gql(server, mutation, { id: task.id, ...variables }, { token: t.foreignAdmin }));
      const unknown = await gql(server, mutation, { id: MISSING_ID, ...variables }, { token: t.admin });
      expect(errorCode(unknown)).toBe('NOT_FOUND');
    }
    for (const id of [task.id, MISSING_ID]) {
      const subscription = await subscribeWs(server, wsClient(server, t.foreignAdmin), EVENTS, { taskId: id });
      expect(JSON.stringify(await subscription.waitForError())).toContain('NOT_FOUND');
    }
    const still = await ok(server, TASK, { id: task.id }, t.agent);
    expect(still.task).toEqual(task);
  });

  it('lets every member read, and only admin and agent change', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const task = await createTask(server, t.agent);
    for (const token of [t.service, t.member]) {
      expect((await ok(server, TASK, { id: task.id }, token)).task).toEqual(task);
      const created = await gql(server, CREATE, { input: { title: 'Not allowed' } }, { token });
      expect(errorCode(created)).toBe('FORBIDDEN');
      expect(created.data).toBeNull();
      for (const [, mutation, variables] of MUTATIONS) {
        expect(errorCode(await gql(server, mutation, { id: task.id, ...variables }, { token }))).toBe('FORBIDDEN');
        // The role is checked first, so a refused caller learns nothing about which ids exist.
        expect(errorCode(await gql(server, mutation, { id: MISSING_ID, ...variables }, { token }))).toBe('FORBIDDEN');
      }
    }
    expect(await listIds(server, t.member)).toEqual([task.id]);
    expect((await ok(server, TASK, { id: task.id }, t.agent)).task).toEqual(task);
    for (const [name, mutation, variables] of MUTATIONS) {
      const data = await ok(server, mutation, { id: task.id, ...variables }, t.admin);
      expect(data[name].id).toBe(task.id);
    }
  });

  it('answers bad values with BAD_USER_INPUT, naming the field', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const task = await createTask(server, t.agent);
    const cases: [string, string, Record<string, unknown>, string | undefined][] = [
      ['empty title', CREATE, { input: { title: '' } }, 'title'],
      ['blank title', CREATE, { input: { title: '   ' } }, 'title'],
      ['long title', CREATE, { input: { title: 'x'.repeat(201) } }, 'title'],
      ['long description', CREATE, { input: { title: 'ok', description: 'd'.repeat(10_001) } }, 'description'],
      ['empty assignee', CREATE, { input: { title: 'ok', assigneeId: '' } }, 'assigneeId'],
      ['long assignee', CREATE, { input: { title: 'ok', assigneeId: 'u'.repeat(129) } }, 'assigneeId'],
      ['missing title', CREATE, { input: {} }, undefined],
      ['empty title update', UPDATE, { id: task.id, input: { title: ' ' } }, 'title'],
      ['long title update', UPDATE, { id: task.id, input: { title: 'x'.repeat(201) } }, 'title'],
      ['long description update', UPDATE, { id: task.id, input: { description: 'd'.repeat(10_001) } }, 'description'],
      ['long assignee', ASSIGN, { id: task.id, assigneeId: 'u'.repeat(129) }, 'assigneeId'],
      ['unknown status', STATUS, { id: task.id, status: 'FINISHED' }, undefined],
      ['lowercase status', STATUS, { id: task.id, status: 'done' }, undefined],
      ['negative progress', PROGRESS, { id: task.id, progress: -1 }, 'progress'],
      ['progress over 100', PROGRESS, { id: task.id, progress: 101 }, 'progress'],
      ['fractional progress', PROGRESS, { id: task.id, progress: 50.5 }, undefined],
      ['progress as text', PROGRESS, { id: task.id, progress: '50' }, undefined],
      ['empty note', NOTE, { id: task.id, text: ' \n ' }, 'text'],
      ['long note', NOTE, { id: task.id, text: 'n'.repeat(4001) }, 'text'],
      ['malformed id', PROGRESS, { id: 'has space', progress: 1 }, 'id'],
      ['overlong id', PROGRESS, { id: 'i'.repeat(129), progress: 1 }, 'id'],
      ['zero limit', `query { tasks(limit: 0) { id } }`, {}, 'limit'],
      ['limit over 500', `query { tasks(limit: 501) { id } }`, {}, 'limit'],
      ['malformed cursor', `query { tasks(before: "a:b") { id } }`, {}, 'before'],
      ['unknown status filter', `query { tasks(status: FINISHED) { id } }`, {}, undefined],
      ['long assignee filter', `query ($a: ID) { tasks(assigneeId: $a) { id } }`, { a: 'u'.repeat(129) }, 'assigneeId'],
      ['inline unknown status', `mutation { setTaskStatus(id: "${task.id}", status: FINISHED) { id } }`, {}, undefined],
    ];
    for (const [what, operation, variables, field] of cases) {
      const result = await gql(server, operation, variables, { token: t.agent });
      expect(errorCode(result), what).toBe('BAD_USER_INPUT');
      if (field) expect(result.errors![0]!.extensions!.field, what).toBe(field);
    }
    const longest = await createTask(server, t.agent, {
      title: 'x'.repeat(200),
      description: 'd'.repeat(10_000),
      assigneeId: 'u'.repeat(128),
    });
    expect(longest.title).toHaveLength(200);
    expect((await change(server, t.agent, NOTE, { id: task.id, text: 'n'.repeat(4000) })).notes).toHaveLength(1);
    const unchanged = await ok(server, TASK, { id: task.id }, t.agent);
    expect(unchanged.task).toMatchObject({ title: task.title, status: 'TODO', progress: 0 });

    const subscription = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { assigneeId: 'u'.repeat(129) });
    expect(JSON.stringify(await subscription.waitForError())).toContain('BAD_USER_INPUT');
  });

  it('holds at most 200 notes per task', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const task = await createTask(server, t.agent);
    for (let i = 1; i <= 200; i++) await ok(server, NOTE, { id: task.id, text: `note ${i}` }, t.agent);
    const full = await gql(server, NOTE, { id: task.id, text: 'one too many' }, { token: t.agent });
    expect(errorCode(full)).toBe('BAD_USER_INPUT');
    const read = await ok(server, TASK, { id: task.id }, t.agent);
    expect(read.task.notes).toHaveLength(200);
    expect(read.task.notes.at(-1).text).toBe('note 200');
  });

  it('pages a task\u2019s notes back from the newest with `limit` and `before`', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const task = await createTask(server, t.agent);
    for (let i = 1; i <= 7; i++) await ok(server, NOTE, { id: task.id, text: `note ${i}` }, t.agent);
    const NOTES = `query ($id: ID!, $limit: Int, $before: ID) {
      task(id: $id) { noteCount notes(limit: $limit, before: $before) { id text } }
    }`;
    const page = async (before?: string) => (await ok(server, NOTES, { id: task.id, limit: 3, before }, t.member)).task;
    const texts = (notes: { text: string }[]) => notes.map((note) => note.text);

    const newest = await page();
    expect(newest.noteCount).toBe(7);
    expect(texts(newest.notes)).toEqual(['note 5', 'note 6', 'note 7']);
    const older = await page(newest.notes[0].id);
    expect(texts(older.notes)).toEqual(['note 2', 'note 3', 'note 4']);
    const oldest = await page(older.notes[0].id);
    expect(texts(oldest.notes)).toEqual(['note 1']);
    expect((await page(oldest.notes[0].id)).notes).toEqual([]);

    const bad = async (variables: Record<string, unknown>) =>
      errorCode(await gql(server, NOTES, { id: task.id, ...variables }, { token: t.member }));
    expect(await bad({ limit: 0 })).toBe('BAD_USER_INPUT');
    expect(await bad({ limit: 201 })).toBe('BAD_USER_INPUT');
    expect(await bad({ before: 'not-a-note' })).toBe('NOT_FOUND');
  });
});
