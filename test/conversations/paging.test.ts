import { describe, expect, it } from 'vitest';
import { BACKENDS, ok, startTestServer, type TestServer } from '../support/harness.js';
import {
  ADD,
  CONVERSATIONS,
  codeOf,
  createConversation,
  people,
  REMOVE,
  send,
  type ConversationView,
} from './support.js';

const ids = (list: ConversationView[]) => list.map((conversation) => conversation.id);

async function page(server: TestServer, token: string, limit: number, before?: string) {
  return (await ok(server, CONVERSATIONS, { limit, before }, token)).conversations as ConversationView[];
}

describe.each(BACKENDS)('conversations paging on the %s backend', (backend) => {
  it('pages the viewer\u2019s conversations by activity with `before`, each once', async () => {
    const server = await startTestServer({ backend });
    const p = await people();
    const made: ConversationView[] = [];
    for (let i = 0; i < 7; i++) made.push(await createConversation(server, p.alice, ['bob'], `Room ${i}`));
    // Activity reorders them: 2 then 5 get a message, so they lead.
    await send(server, p.bob, made[2]!.id, 'hello');
    await send(server, p.alice, made[5]!.id, 'hi');
    const expected = [made[5], made[2], made[6], made[4], made[3], made[1], made[0]].map((c) => c!.id);

    expect(ids(await page(server, p.alice, 500))).toEqual(expected);
    const first = await page(server, p.alice, 3);
    const second = await page(server, p.alice, 3, first.at(-1)!.id);
    const third = await page(server, p.alice, 3, second.at(-1)!.id);
    expect([first, second, third].map((list) => list.length)).toEqual([3, 3, 1]);
    expect([...ids(first), ...ids(second), ...ids(third)]).toEqual(expected);
    // The last id as cursor: nothing older.
    expect(await page(server, p.alice, 3, expected.at(-1))).toEqual([]);
    // Bob's list is his own order (his message moved 2 first for him too).
    expect(ids(await page(server, p.bob, 2, made[2]!.id))).toEqual([made[6]!.id, made[4]!.id]);
  });

  it('answers NOT_FOUND for a cursor that is not one of the viewer\u2019s conversations, and BAD_USER_INPUT for a bad limit', async () => {
    const server = await startTestServer({ backend });
    const p = await people();
    const theirs = await createConversation(server, p.bob, ['carol']);
    const left = await createConversation(server, p.alice, ['bob']);
    await ok(server, ADD, { id: left.id, userIds: ['carol'] }, p.alice);
    await ok(server, REMOVE, { id: left.id, userId: 'carol' }, p.alice);
    const foreign = await createConversation(server, p.stranger, ['x']);

    for (const before of [theirs.id, foreign.id, 'not-a-conversation']) {
      expect(await codeOf(server, p.alice, CONVERSATIONS, { limit: 5, before })).toBe('NOT_FOUND');
    }
    expect(await codeOf(server, p.carol, CONVERSATIONS, { before: left.id })).toBe('NOT_FOUND');
    expect(await codeOf(server, p.alice, CONVERSATIONS, { limit: 0 })).toBe('BAD_USER_INPUT');
  });
});
