import { describe, expect, it } from 'vitest';
import { createMemberships } from '../../src/conversations/memberships.js';
import type { ConversationRecord } from '../../src/conversations/model.js';
import { createMemoryStorage } from '../../src/storage/memory.js';

const record = (id: string, memberIds: string[], membersVersion: number): ConversationRecord => ({
  id,
  orgId: 'org-a',
  title: null,
  memberIds,
  membersVersion,
  creatorId: memberIds[0]!,
  createdAt: new Date().toISOString(),
  lastMessageId: null,
  lastMessageSeq: 0,
  lastActivityAt: new Date().toISOString(),
});

describe('a process’s memberships (what inbox subscribers decide by)', () => {
  it('keeps the newest version learnt, forgets the least recently used past its bound, and reads again', async () => {
    const storage = createMemoryStorage();
    const conversations = storage.forOrg('org-a').collection<ConversationRecord>('conversations');
    const process = createMemberships((orgId) => storage.forOrg(orgId).collection('conversations'), 5);
    const memberships = process.forOrg('org-a');
    // Another organisation's view shares the bound but never the conversations.
    process.forOrg('org-b').learn('a', 9, ['mallory']);
    expect(memberships.at('a', 9)).toBeUndefined();
    memberships.learn('a', 1, ['alice', 'bob']);
    memberships.learn('a', 0, ['alice']);
    expect(memberships.at('a', 1)?.memberIds).toEqual(['alice', 'bob']);
    expect(memberships.at('a', 0)).toBeUndefined();

    memberships.learn('b', 0, ['alice', 'carol']);
    memberships.at('a', 1); // used last: `b` is now the least recently used
    memberships.learn('c', 0, ['dave', 'erin']);
    expect(memberships.at('b', 0)).toBeUndefined();
    expect(memberships.at('a', 1)?.members.has('bob')).toBe(true);
    expect(memberships.at('c', 0)?.members.has('erin')).toBe(true);

    // Not known here: read from storage, at the version asked for or a later one.
    await conversations.insert(record('b', ['alice', 'carol'], 2));
    expect((await memberships.current('b', 1))?.version).toBe(2);
    expect(memberships.at('b', 2)?.memberIds).toEqual(['alice', 'carol']);
    // A version no writer made (the stored one is older): nothing to decide by.
    expect(await memberships.current('b', 7)).toBeUndefined();
    expect(await memberships.current('gone', 0)).toBeUndefined();
  });
});
