import { describe, expect, it } from 'vitest';
import { BACKENDS, gql, ok, startTestServer } from '../support/harness.js';
import {
  ADD,
  CONVERSATIONS,
  conversationEvents,
  createConversation,
  CREATE,
  EDIT,
  expectExactly,
  history,
  MARK_READ,
  MESSAGES,
  people,
  PRESENCE,
  REACT,
  REMOVE,
  send,
  SEND,
  STATUS,
} from './support.js';

/** Rooms capped at 100 members, so the limit's answers are checked with small requests (the cap itself: scale.test.ts). */
const SMALL_ROOMS = { MAX_CONVERSATION_MEMBERS: '100' };

const ids = (count: number, prefix = 'user') => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

describe.each(BACKENDS)('bad input to conversations on the %s backend', (backend) => {
  it('answers every limit and malformed value with BAD_USER_INPUT, changing nothing', async () => {
    const server = await startTestServer({ backend, env: SMALL_ROOMS });
    const t = await people();
    const { id } = await createConversation(server, t.alice, ['bob']);
    const message = await send(server, t.alice, id, 'original');
    const events = await conversationEvents(server, t.bob, id);

    const cases: [string, string, Record<string, unknown>, string][] = [
      ['empty body', SEND, { id, body: '' }, 'body'],
      ['blank body', SEND, { id, body: ' \n\t ' }, 'body'],
      ['4097 characters', SEND, { id, body: 'x'.repeat(4097) }, 'body'],
      ['4097 emoji', SEND, { id, body: '😀'.repeat(4097) }, 'body'],
      ['empty clientMessageId', SEND, { id, body: 'x', clientMessageId: '' }, 'clientMessageId'],
      ['long clientMessageId', SEND, { id, body: 'x', clientMessageId: 'k'.repeat(129) }, 'clientMessageId'],
      ['padded clientMessageId', SEND, { id, body: 'x', clientMessageId: ' k ' }, 'clientMessageId'],
      ['malformed conversation id', SEND, { id: 'not an id', body: 'x' }, 'conversationId'],
      ['overlong conversation id', SEND, { id: 'i'.repeat(129), body: 'x' }, 'conversationId'],
      ['empty edit', EDIT, { id: message.id, body: '   ' }, 'body'],
      ['long edit', EDIT, { id: message.id, body: 'x'.repeat(4097) }, 'body'],
      ['word as emoji', REACT, { id: message.id, emoji: 'like' }, 'emoji'],
      ['two emoji', REACT, { id: message.id, emoji: '👍👍' }, 'emoji'],
      ['empty emoji', REACT, { id: message.id, emoji: '' }, 'emoji'],
      ['shortcode', REACT, { id: message.id, emoji: ':+1:' }, 'emoji'],
      ['limit 0', MESSAGES, { id, limit: 0 }, 'limit'],
      ['limit 201', MESSAGES, { id, limit: 201 }, 'limit'],
      ['negative limit', MESSAGES, { id, limit: -5 }, 'limit'],
      ['malformed cursor', MESSAGES, { id, before: 'a:b' }, 'before'],
      ['conversations limit 0', CONVERSATIONS, { limit: 0 }, 'limit'],
      ['conversations limit 501', CONVERSATIONS, { limit: 501 }, 'limit'],
      ['empty title', CREATE, { title: '  ', memberIds: ['bob'] }, 'title'],
      ['long title', CREATE, { title: 't'.repeat(201), memberIds: ['bob'] }, 'title'],
      ['101 members with the caller', CREATE, { memberIds: ids(100) }, 'memberIds'],
      ['101 member ids', CREATE, { memberIds: ids(101) }, 'memberIds'],
      ['malformed member id', CREATE, { memberIds: ['bob', 'has space'] }, 'memberIds'],
      ['no one to add', ADD, { id, userIds: [] }, 'userIds'],
      ['malformed user to remove', REMOVE, { id, userId: '' }, 'userId'],
      ['malformed read cursor', MARK_READ, { id, upTo: 'a b' }, 'upToMessageId'],
      ['empty presence list', PRESENCE, { userIds: [] }, 'userIds'],
      ['101 presence ids', PRESENCE, { userIds: ids(101) }, 'userIds'],
    ];
    for (const [what, query, variables, field] of cases) {
      const result = await gql(server, query, variables, { token: t.alice });
      expect(result.errors?.[0]?.extensions, what).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    // GraphQL's own checks: an unknown status, a missing argument, a wrong type.
    for (const [query, variables] of [
      [STATUS, { id: message.id, status: 'ARRIVED' }],
      [SEND, { id }],
      [MESSAGES, { id, limit: 'ten' }],
    ] as const) {
      const result = await gql(server, query, variables, { token: t.service });
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }

    expect(await history(server, t.alice, id)).toMatchObject([{ id: message.id, body: 'original', reactions: [] }]);
    expect((await ok(server, `{ conversations { id } }`, {}, t.alice)).conversations).toEqual([{ id }]);
    await expectExactly(events, []);
  });

  it('accepts the largest values allowed', async () => {
    const server = await startTestServer({ backend, env: SMALL_ROOMS });
    const t = await people();
    const big = await createConversation(server, t.alice, ids(99), 't'.repeat(200));
    expect(big.memberIds).toHaveLength(100);
    expect(
      (await gql(server, ADD, { id: big.id, userIds: ['one-too-many'] }, { token: t.alice })).errors?.[0]?.extensions,
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userIds' });

    const { id } = await createConversation(server, t.alice, ['bob', 'bob', 'alice']);
    expect(
      (await ok(server, `query ($id: ID!) { conversation(id: $id) { memberIds } }`, { id }, t.bob)).conversation,
    ).toEqual({ memberIds: ['alice', 'bob'] });
    const long = await send(server, t.alice, id, '😀'.repeat(4096), 'k'.repeat(128));
    expect([...long.body]).toHaveLength(4096);
    expect((await send(server, t.alice, id, 'x'.repeat(4096))).body).toHaveLength(4096);
    expect(await history(server, t.alice, id, 200)).toHaveLength(2);

    const emoji = [
      '👍',
      '❤️',
      '❤',
      '🇩🇪',
      '1️⃣',
      '👨‍👩‍👧',
      '👍🏽',
      '😀',
      '🎉',
      '🔥',
      '✅',
      '👀',
      '🙏',
      '😂',
      '🚀',
      '💯',
      '🤔',
      '👏',
      '😢',
      '😮',
    ];
    let reactions: unknown[] = [];
    for (const each of emoji)
      reactions = (await ok(server, REACT, { id: long.id, emoji: each }, t.bob)).reactToMessage.reactions;
    expect(reactions).toHaveLength(20);
    const tooMany = await gql(server, REACT, { id: long.id, emoji: '🍕' }, { token: t.alice });
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'emoji' });
    // Joining an emoji already used is fine at the limit.
    expect((await ok(server, REACT, { id: long.id, emoji: '🔥' }, t.alice)).reactToMessage.reactions).toHaveLength(20);
  });
});
