import { describe, expect, it } from 'vitest';
import { BACKENDS, errorCode, gql, ok, startTestServer, type GraphQLResponse } from '../support/harness.js';
import { rawSocket } from '../hardening/raw-ws.js';
import { COUNT, DELETE, LIST, list, MARK_ALL, MARK_READ, send, SEND, tokens, unreadCount } from './operations.js';

const MISSING_ID = '00000000-0000-0000-0000-000000000000';

describe.each(BACKENDS)('notifications on the %s backend', (backend) => {
  it('delivers a notification to its recipient only, newest first, a page at a time', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const data = { taskId: 't-1', counts: [1, 2.5, -3], nested: { ok: true, none: null }, text: 'é✓' };
    const first = await send(server, t.admin, {
      recipientId: 'alice',
      kind: 'task.assigned',
      title: '  You have a task  ',
      body: '  Call the customer  ',
      data,
    });
    expect(first).toMatchObject({
      kind: 'task.assigned',
      title: 'You have a task',
      body: 'Call the customer',
      data,
      readAt: null,
    });
    expect(new Date(first.createdAt).toISOString()).toBe(first.createdAt);
    const second = await send(server, t.service, { recipientId: 'alice', kind: 'campaign:done', body: '' });
    expect(second).toMatchObject({ kind: 'campaign:done', body: null, data: null });
    const scalar = await send(server, t.service, { recipientId: 'alice', data: 'just text' });
    expect(scalar.data).toBe('just text');
    const forBob = await send(server, t.admin, { recipientId: 'bob' });

    expect(await list(server, t.alice)).toEqual([scalar, second, first]);
    expect(await unreadCount(server, t.alice)).toBe(3);
    expect(await list(server, t.bob)).toEqual([forBob]);
    expect(await unreadCount(server, t.bob)).toBe(1);
    // Neither the sender nor a user with the same id in another organisation sees them.
    expect(await list(server, t.admin)).toEqual([]);
    expect(await list(server, t.foreignAlice)).toEqual([]);
    expect(await unreadCount(server, t.foreignAlice)).toBe(0);

    expect(await list(server, t.alice, { limit: 2 })).toEqual([scalar, second]);
    expect(await list(server, t.alice, { limit: 2, before: second.id })).toEqual([first]);
    expect(await list(server, t.alice, { before: first.id })).toEqual([]);
  });

  it('sends within the sender\u2019s organisation only', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const theirs = await send(server, t.foreignService, { recipientId: 'alice', title: 'For org-b' });
    expect(await list(server, t.alice)).toEqual([]);
    expect(await list(server, t.foreignAlice)).toEqual([theirs]);
    expect(await unreadCount(server, t.foreignAlice)).toBe(1);
  });

  it('marks read idempotently, marks all read, deletes, and keeps the unread count right', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const [n1, n2, n3] = [
      await send(server, t.admin, { recipientId: 'alice', title: 'One' }),
      await send(server, t.admin, { recipientId: 'alice', title: 'Two' }),
      await send(server, t.admin, { recipientId: 'alice', title: 'Three' }),
    ];
    const read = (await ok(server, MARK_READ, n1!, t.alice)).markNotificationRead;
    expect(read).toEqual({ ...n1, readAt: read.readAt });
    expect(Date.parse(read.readAt)).toBeGreaterThanOrEqual(Date.parse(n1!.createdAt));
    expect((await ok(server, MARK_READ, n1!, t.alice)).markNotificationRead).toEqual(read);
    expect(await unreadCount(server, t.alice)).toBe(2);
    expect(await list(server, t.alice, { unreadOnly: true })).toEqual([n3, n2]);
    expect(await list(server, t.alice, { unreadOnly: false })).toEqual([n3, n2, read]);
    expect(await list(server, t.alice, { unreadOnly: true, limit: 1, before: n3!.id })).toEqual([n2]);

    expect((await ok(server, MARK_ALL, {}, t.alice)).markAllNotificationsRead).toBe(2);
    expect(await unreadCount(server, t.alice)).toBe(0);
    expect(await list(server, t.alice, { unreadOnly: true })).toEqual([]);
    const all = await list(server, t.alice);
    expect(all.map((n) => n.id)).toEqual([n3!.id, n2!.id, n1!.id]);
    expect(all.every((n) => n.readAt !== null)).toBe(true);
    expect(all[2]!.readAt).toBe(read.readAt);
    expect((await ok(server, MARK_ALL, {}, t.alice)).markAllNotificationsRead).toBe(0);

    const n4 = await send(server, t.service, { recipientId: 'alice', title: 'Four' });
    expect(await unreadCount(server, t.alice)).toBe(1);
    expect((await ok(server, DELETE, n4, t.alice)).deleteNotification).toBe(true);
    expect(await unreadCount(server, t.alice)).toBe(0);
    expect((await ok(server, DELETE, n2!, t.alice)).deleteNotification).toBe(true);
    expect((await list(server, t.alice)).map((n) => n.id)).toEqual([n3!.id, n1!.id]);
    expect(errorCode(await gql(server, DELETE, n2!, { token: t.alice }))).toBe('NOT_FOUND');
    expect(errorCode(await gql(server, MARK_READ, n2!, { token: t.alice }))).toBe('NOT_FOUND');
  });

  it('reports someone else\u2019s notification exactly as a missing one, even to an admin of the organisation', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const notification = await send(server, t.admin, { recipientId: 'alice' });
    const missing = await gql(server, MARK_READ, { id: MISSING_ID }, { token: t.alice });
    expect(errorCode(missing)).toBe('NOT_FOUND');
    const sameAsMissing = (result: GraphQLResponse<unknown>) => {
      expect(errorCode(result)).toBe('NOT_FOUND');
      expect(result.errors![0]!.message).toBe(missing.errors![0]!.message.replace(MISSING_ID, notification.id));
    };
    for (const token of [t.bob, t.admin, t.service, t.foreignAlice]) {
      sameAsMissing(await gql(server, MARK_READ, notification, { token }));
      sameAsMissing(await gql(server, DELETE, notification, { token }));
      sameAsMissing(await gql(server, LIST, { before: notification.id }, { token }));
      expect((await ok(server, MARK_ALL, {}, token)).markAllNotificationsRead).toBe(0);
    }
    expect(errorCode(await gql(server, DELETE, { id: MISSING_ID }, { token: t.alice }))).toBe('NOT_FOUND');
    expect(await list(server, t.alice)).toEqual([notification]);
    expect(await unreadCount(server, t.alice)).toBe(1);
  });

  it('lets only admin and service send', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    for (const token of [t.agent, t.alice]) {
      const result = await gql(server, SEND, { input: { recipientId: 'alice', kind: 'k', title: 'No' } }, { token });
      expect(errorCode(result)).toBe('FORBIDDEN');
      expect(result.data).toBeNull();
      // Checked before the input, so a refused caller learns nothing from validation either.
      const bad = await gql(server, SEND, { input: { recipientId: 'alice', kind: '', title: '' } }, { token });
      expect(errorCode(bad)).toBe('FORBIDDEN');
    }
    expect(await list(server, t.alice)).toEqual([]);
    // The recipient needs no role to read, mark and delete their own.
    const own = await send(server, t.service, { recipientId: 'alice' });
    expect((await ok(server, MARK_READ, own, t.alice)).markNotificationRead.readAt).not.toBeNull();
    expect((await ok(server, DELETE, own, t.alice)).deleteNotification).toBe(true);
  });

  it('answers bad values with BAD_USER_INPUT, naming the field', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const valid = { recipientId: 'alice', kind: 'task.assigned', title: 'Hello' };
    const cases: [string, Record<string, unknown>, string | undefined][] = [
      ['empty kind', { ...valid, kind: '' }, 'kind'],
      ['kind with a space', { ...valid, kind: 'task assigned' }, 'kind'],
      ['kind starting with a dash', { ...valid, kind: '-task' }, 'kind'],
      ['kind too long', { ...valid, kind: 'k'.repeat(65) }, 'kind'],
      ['empty title', { ...valid, title: '' }, 'title'],
      ['blank title', { ...valid, title: '  ' }, 'title'],
      ['long title', { ...valid, title: 't'.repeat(201) }, 'title'],
      ['long body', { ...valid, body: 'b'.repeat(4001) }, 'body'],
      ['empty recipient', { ...valid, recipientId: '' }, 'recipientId'],
      ['long recipient', { ...valid, recipientId: 'r'.repeat(129) }, 'recipientId'],
      ['data over 16 KiB', { ...valid, data: { text: 'x'.repeat(16_384) } }, 'data'],
      ['data over 16 KiB in UTF-8', { ...valid, data: 'é'.repeat(8192) }, 'data'],
      ['data as many small values', { ...valid, data: Array.from({ length: 5000 }, (_, i) => i) }, 'data'],
      ['missing title', { recipientId: 'alice', kind: 'k' }, undefined],
    ];
    for (const [what, input, field] of cases) {
      const result = await gql(server, SEND, { input }, { token: t.admin });
      expect(errorCode(result), what).toBe('BAD_USER_INPUT');
      if (field) expect(result.errors![0]!.extensions!.field, what).toBe(field);
    }
    for (const [what, operation, variables, field] of [
      ['zero limit', LIST, { limit: 0 }, 'limit'],
      ['limit over 200', LIST, { limit: 201 }, 'limit'],
      ['malformed cursor', LIST, { before: 'a:b' }, 'before'],
      ['malformed id', MARK_READ, { id: 'a b' }, 'id'],
      ['overlong id', DELETE, { id: 'i'.repeat(129) }, 'id'],
      ['unread flag as text', LIST, { unreadOnly: 'yes' }, undefined],
    ] as const) {
      const result = await gql(server, operation, variables, { token: t.alice });
      expect(errorCode(result), what).toBe('BAD_USER_INPUT');
      if (field) expect(result.errors![0]!.extensions!.field, what).toBe(field);
    }
    expect(await list(server, t.alice)).toEqual([]);

    // Right at the limits is fine: 16384 bytes of JSON (a string of 16382 characters plus its quotes).
    const largest = await send(server, t.admin, {
      ...valid,
      kind: 'k'.repeat(64),
      title: 't'.repeat(200),
      body: 'b'.repeat(4000),
      recipientId: 'r'.repeat(128),
      data: 'x'.repeat(16_382),
    });
    expect((largest.data as string).length).toBe(16_382);
    const inline = await gql(
      server,
      'mutation { sendNotification(input: { recipientId: "alice", kind: "k", title: "Hi", data: { a: [1, "two"] } }) { data } }',
      {},
      { token: t.admin },
    );
    expect(inline.data).toEqual({ sendNotification: { data: { a: [1, 'two'] } } });
    expect((await ok(server, COUNT, {}, t.alice)).unreadNotificationCount).toBe(1);
  });

  it('refuses JSON nested deeper than 32 levels with BAD_USER_INPUT, in variables and inline, over HTTP and WebSocket', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const nested = (levels: number, leaf: unknown = 1) => {
      let value = leaf;
      for (let i = 0; i < levels; i++) value = i % 2 ? { a: value } : [value];
      return value;
    };
    /** `[{a: [{a: … 1 …}]}]`: `levels` levels (even) of arrays and objects, as a literal and as the value it means. */
    const inlineNested = (levels: number) => '[{a: '.repeat(levels / 2) + '1' + '}]'.repeat(levels / 2);
    const inlineValue = (levels: number) => {
      let value: unknown = 1;
      for (let i = 0; i < levels / 2; i++) value = [{ a: value }];
      return value;
    };
    const input = (data: unknown) => ({ recipientId: 'alice', kind: 'k', title: 'Deep', data });
    const inlineSend = (levels: number) =>
      `mutation { sendNotification(input: { recipientId: "alice", kind: "k", title: "Deep", data: ${inlineNested(levels)} }) { data } }`;
    const tooDeep =
      /^(Variable "\$input" got invalid value .* at "input.data"; )?JSON values may nest at most 32 levels of objects and arrays$/;
    /** One operation over a raw WebSocket: its first answer (`next` or `error`) and the errors in it. */
    const overWs = async (query: string, variables: Record<string, unknown> = {}) => {
      const socket = await rawSocket(server);
      await socket.init(t.admin);
      socket.send({ id: 'op', type: 'subscribe', payload: { query, variables } });
      const answer = await socket.waitFor((message) => message.id === 'op' && message.type !== 'complete');
      return { answer, errors: (answer.type === 'error' ? answer.payload : answer.payload.errors) as any[] };
    };

    // 4000 levels is 8 KB of JSON; 33 is one too many.
    for (const levels of [4000, 33]) {
      const http = await gql(server, SEND, { input: input(nested(levels)) }, { token: t.admin });
      expect(http.status, `${levels} levels`).toBe(400);
      expect(errorCode(http), `${levels} levels`).toBe('BAD_USER_INPUT');
      expect(http.errors![0]!.message).toMatch(tooDeep);
      expect(http.data ?? null).toBeNull();

      const { answer, errors } = await overWs(SEND, { input: input(nested(levels)) });
      expect(errors[0].extensions.code, `${levels} levels over WebSocket`).toBe('BAD_USER_INPUT');
      expect(errors[0].message).toMatch(tooDeep);
      expect(answer.payload.data ?? null).toBeNull();
    }
    // Inline literals are bounded the same way (34 levels: within every document limit).
    const inlineHttp = await gql(server, inlineSend(34), {}, { token: t.admin });
    expect(errorCode(inlineHttp)).toBe('BAD_USER_INPUT');
    expect(inlineHttp.errors![0]!.message).toMatch(tooDeep);
    const inlineWs = await overWs(inlineSend(34));
    expect(inlineWs.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(inlineWs.errors[0].message).toMatch(tooDeep);
    expect(await list(server, t.alice)).toEqual([]);

    // 32 levels are stored and read back as sent, from variables and inline.
    const deepest = nested(32, 'leaf');
    expect((await send(server, t.admin, input(deepest))).data).toEqual(deepest);
    const inline = await ok(server, inlineSend(32), {}, t.admin);
    expect(inline.sendNotification.data).toEqual(inlineValue(32));
    expect(await unreadCount(server, t.alice)).toBe(2);
  });
});
