import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { topics } from '../../src/events/topics.js';
import { keySpace } from '../../src/lib/keys.js';
import { dispose, settle, startTestServer } from '../support/harness.js';
import { createConversation, inboxEvents, people, send } from '../conversations/support.js';

const redisUrl = inject('redisUrl');

/*
 * Inbox events are addressed by membership version, and a process learns
 * the members of a version from the events that carry them. An event
 * forged on Redis (anyone who can publish there) can say anything about
 * itself; it must not teach the process a member list that later, real
 * events of the conversation are then delivered by.
 */
describe('an inbox event forged on Redis with a member list', () => {
  it('does not redirect the conversation’s later real events to a non-member', async () => {
    const server = await startTestServer({ backend: 'redis' });
    const t = await people();
    const room = await createConversation(server, t.alice, ['bob']);
    // Subscribed after the creation: this process has not heard the room's members yet.
    const carolInbox = await inboxEvents(server, t.carol);
    const bobInbox = await inboxEvents(server, t.bob);

    const raw = new Redis(redisUrl);
    dispose(() => raw.quit());
    const org = keySpace(server.config.redisPrefix, false).org('org-a');
    const stored = JSON.parse((await raw.get(`${org}doc:conversations:${room.id}`))!) as Record<string, unknown>;
    const channel = topics.inbox('org-a');
    await raw.publish(
      keySpace(server.config.redisPrefix, false).ofChannel(channel) + channel,
      JSON.stringify({
        __typename: 'ConversationUpdated',
        conversation: { ...stored, membersVersion: 0, memberIds: ['alice', 'bob', 'carol'] },
        membersVersion: 0,
        occurredAt: new Date().toISOString(),
      }),
    );
    await settle(200);

    const secret = await send(server, t.alice, room.id, 'for bob only');
    const bobs = await bobInbox.waitForEvents(1);
    await bobInbox.waitForEvents(bobs.length + 1);
    await settle(300);
    // Bob, a member, has the message; Carol never gets an event about it.
    expect(bobInbox.events.some((event) => event.conversation?.lastMessage?.id === secret.id)).toBe(true);
    expect(JSON.stringify(carolInbox.events)).not.toContain('for bob only');
    expect(carolInbox.events.filter((event) => event.__typename === 'UnreadCountChanged')).toEqual([]);
  });
});
