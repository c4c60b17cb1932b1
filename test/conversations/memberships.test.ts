import { describe, expect, it } from 'vitest';
import { createMemberships } from '../../src/conversations/memberships.js';
import type { ConversationRecord } from '../../src/conversations/model.js';
import { createConversationStore } from '../../src/conversations/store.js';
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
  it('keeps the versions read, forgets the least recently used past its bound, and reads again', async () => {
    const [storageA, storageB] = [createMemoryStorage(), createMemoryStorage()];
    const orgA = storageA.collection<ConversationRecord>('conversations');
    const orgB = storageB.collection<ConversationRecord>('conversations');
    // Records as the previous version stored them (members in the record): read as they are.
    const stores = new Map([
      ['org-a', createConversationStore(storageA)('org-a')],
      ['org-b', createConversationStore(storageB)('org-b')],
    ]);
    const process = createMemberships((orgId, id) => stores.get(orgId)!.membership(id), 5);
    const memberships = process.forOrg('org-a');
    // Another organisation's conversation of the same id shares the bound but never answers for this one.
    await orgB.insert(record('a', ['mallory'], 9));
    expect((await process.forOrg('org-b').current('a', 9))?.memberIds).toEqual(['mallory']);
    expect(memberships.at('a', 9)).toBeUndefined();
    // Read at the version asked for or a later one; only the version read is known.
    await orgA.insert(record('a', ['alice', 'bob'], 1));
    expect((await memberships.current('a', 0))?.version).toBe(1);
    expect(memberships.at('a', 1)?.memberIds).toEqual(['alice', 'bob']);
    expect(memberships.at('a', 0)).toBeUndefined();

    await orgA.insert(record('b', ['alice', 'carol'], 0));
    await memberships.current('b', 0);
    memberships.at('a', 1); // used last: `b` is now the least recently used
    await orgA.insert(record('c', ['dave', 'erin'], 0));
    await memberships.current('c', 0);
    expect(memberships.at('b', 0)).toBeUndefined();
    expect(memberships.at('a', 1)?.members.has('bob')).toBe(true);
    expect(memberships.at('c', 0)?.members.has('erin')).toBe(true);

    // Forgotten: read again when needed.
    expect((await memberships.current('b', 0))?.memberIds).toEqual(['alice', 'carol']);
    expect(memberships.at('b', 0)?.memberIds).toEqual(['alice', 'carol']);
    // A version no writer made (the stored one is older): nothing to decide by.
    expect(await memberships.current('b', 7)).toBeUndefined();
    expect(await memberships.current('gone', 0)).toBeUndefined();
  });
});
