import { digest } from '../lib/idempotency.js';
import { keyPart } from '../lib/keys.js';
import { retentionOf, type ChangeEvent, type IndexEntry, type Storage } from '../storage/index.js';
import {
  readPointerId,
  type ConversationRecord,
  type ConversationWithMembers,
  type MessageRecord,
  type ReadPointerRecord,
} from './model.js';

/** The sequence of a message being appended: {@link ConversationStore.appendMessage} numbers it. */
export const SEQUENCE_PENDING = -1;

/**
 * Join positions per membership version: a member's join score is
 * `version * JOIN_SLOTS + position` among those joining in that change (at
 * most `MAX_CONVERSATION_MEMBERS`, itself at most 100,000), so scores grow
 * with every change and order the members as they joined.
 */
const JOIN_SLOTS = 2 ** 17;

/** Re-reads of a conversation whose members changed while its members were being read or changed. */
const MAX_MEMBER_ATTEMPTS = 50;

/** What a membership change makes of the members: the new list (in join order), or undefined for no change. */
export type MembersChange = (memberIds: string[], conversation: ConversationRecord) => string[] | undefined;

/**
 * The storage layout of conversations and messages, in one place.
 *
 * - `conversations`: the record is small (a member count, not the members);
 *   its members are an index of their own, `members:<c>`, listing user ids
 *   scored by join order (see `JOIN_SLOTS`), written in the same atomic step
 *   as the record's `membersVersion` and the members' own indexes, so a
 *   send reads and rewrites the same bytes whatever the member count and a
 *   membership check is one score lookup. Records of the previous version
 *   keep their members in the record (`memberIds`) until `versioned`.
 * - `conversations`, indexed per member (`member:<org>:<user>`), scored when
 *   they joined, and per organisation (`activity:<org>`) by last activity,
 *   both marks of one organisation-wide counter (so the order is strict). A
 *   member's list is ranked at read time by the higher of the two
 *   (`rankedPage`): a message moves one score, whatever the member count,
 *   and a member who joins sees the conversation on top of their list.
 * - `messages`, indexed per conversation by sequence: `history:<c>` holds every
 *   message (tombstones too) for paging; `live:<c>` and `live:<c>:<sender>` only
 *   those not deleted, so a viewer's unread count is two range counts:
 *   live messages after their pointer minus their own live messages after it.
 * - `conversationReads`, one read pointer per member.
 * - With `MESSAGE_RETENTION_SECONDS`, messages expire that long after they
 *   were sent (the append sets their expiry), and read pointers that long
 *   after they last moved (a pointer that old covers only messages already
 *   gone, so losing it changes no count).
 * - A counter per conversation hands out message sequences (in the same
 *   write that appends the message); a claim per
 *   sender, conversation and `clientMessageId` makes sending idempotent.
 */
export function createConversationStore(storage: Storage, retention: { messagesSeconds?: number } = {}) {
  // One store per organisation scope, made once: requests ask for it several times. Keyed by the scope
  // `forOrg` keeps (and bounds), so a scope it lets go takes its store with it.
  const stores = new WeakMap<Storage, ConversationStore>();
  return (orgId: string): ConversationStore => {
    const scoped = storage.forOrg(orgId);
    let store = stores.get(scoped);
    if (!store) stores.set(scoped, (store = createOrgConversationStore(scoped, retention)));
    return store;
  };
}

/** One organisation's conversations and messages (`storage`: the organisation's, see `Storage.forOrg`). */
function createOrgConversationStore(storage: Storage, { messagesSeconds = 0 }: { messagesSeconds?: number }) {
  const conversations = storage.collection<ConversationRecord>('conversations');
  const messages = storage.collection<MessageRecord>('messages', retentionOf(messagesSeconds));
  // A pointer older than the message retention is worth nothing: every message it covered is gone.
  const reads = storage.collection<ReadPointerRecord>(
    'conversationReads',
    retentionOf(messagesSeconds, { renewOnWrite: true }),
  );

  const historyIndex = (conversationId: string) => `history:${conversationId}`;
  const liveIndex = (conversationId: string) => `live:${conversationId}`;
  const liveBySenderIndex = (conversationId: string, senderId: string) => `live:${conversationId}:${keyPart(senderId)}`;

  /** The index of a user's conversations, scored when they joined. */
  const memberIndex = (orgId: string, userId: string) => `member:${keyPart(orgId)}:${keyPart(userId)}`;
  /** The index of an organisation's conversations, by last activity (message or creation). */
  const activityIndex = (orgId: string) => `activity:${keyPart(orgId)}`;
  const seqCounter = (conversationId: string) => `conversation-seq:${conversationId}`;
  /** The index of a conversation's members (user ids), by join order. */
  const membersIndex = (conversationId: string) => `members:${conversationId}`;
  /** Index entries of `userIds` joining (or, as a record's `before`, leaving) at `version`: theirs and the conversation's. */
  const memberEntries = (
    conversation: ConversationRecord,
    userIds: readonly string[],
    version: number,
    score: number,
  ): IndexEntry[] =>
    userIds.flatMap((userId, position) => [
      { index: memberIndex(conversation.orgId, userId), score },
      { index: membersIndex(conversation.id), id: userId, score: version * JOIN_SLOTS + position },
    ]);
  /** The members of a record as stored now: its own list (previous version) or its index. */
  const memberIdsOf = async (conversation: ConversationRecord) =>
    conversation.memberIds ?? (await conversations.ids(membersIndex(conversation.id)));
  /** Without the list a record of the previous version kept. */
  const withoutList = ({ memberIds: _, ...conversation }: ConversationRecord): ConversationRecord => conversation;

  /**
   * The conversation with a `membersVersion` and its members out of the
   * record: one of the previous version gets version 0 if it had none, its
   * `memberCount`, and its list moved to its members index, in one write
   * (the members' own indexes already list it).
   */
  const versioned = async (conversation: ConversationRecord): Promise<ConversationRecord> => {
    if (conversation.membersVersion !== undefined && conversation.memberIds === undefined) return conversation;
    let moved: string[] = [];
    const result = await conversations.update(
      conversation.id,
      (current) => {
        if (current.memberIds === undefined) {
          return current.membersVersion === undefined ? { ...current, membersVersion: 0 } : undefined;
        }
        moved = current.memberIds;
        return { ...withoutList(current), memberCount: moved.length, membersVersion: current.membersVersion ?? 0 };
      },
      (record) =>
        record.memberIds === undefined
          ? moved.map((userId, position) => ({
              index: membersIndex(record.id),
              id: userId,
              score: (record.membersVersion ?? 0) * JOIN_SLOTS + position,
            }))
          : [],
    );
    const after = result?.after ?? conversation;
    // Migrated meanwhile by another process and its members changed since: the membership this
    // caller checked is not the one `after` names, so the read record is returned, and a write
    // that holds its version fails (the caller reads again, and sees the change).
    return after.membersVersion === (conversation.membersVersion ?? 0) ? after : conversation;
  };
  const activityCounter = (orgId: string) => `conversation-activity:${orgId}`;

  /** Where a new message is indexed. */
  const messageEntries = (message: MessageRecord): IndexEntry[] => [
    { index: historyIndex(message.conversationId), score: message.seq },
    { index: liveIndex(message.conversationId), score: message.seq },
    { index: liveBySenderIndex(message.conversationId, message.senderId), score: message.seq },
  ];

  const readPointer = async (conversationId: string, userId: string) =>
    (await reads.get(readPointerId(conversationId, userId))) ?? {
      id: readPointerId(conversationId, userId),
      seq: 0,
      messageId: null,
    };

  const unreadAfter = async (conversationId: string, userId: string, seq: number, upTo?: number) => {
    const range = { above: seq, below: upTo === undefined ? undefined : upTo + 1 };
    const [all, own] = await Promise.all([
      messages.count(liveIndex(conversationId), range),
      messages.count(liveBySenderIndex(conversationId, userId), range),
    ]);
    // Two reads: a message of the viewer's landing between them could skew by one for a moment.
    return Math.max(0, all - own);
  };

  return {
    storage,
    conversations,
    messages,

    memberIndex,
    activityIndex,
    messageEntries,

    /**
     * A page of a user's conversation ids, most recently active first (the
     * later of the last message and their joining), after `before`;
     * undefined when `before` is not one of theirs.
     */
    memberPage: (orgId: string, userId: string, page: { limit: number; before?: string }) =>
      conversations.rankedPage(memberIndex(orgId, userId), activityIndex(orgId), page),

    /** Takes a deleted message out of the unread counts (it stays in history). Idempotent. */
    async unindexDeleted(message: MessageRecord) {
      await messages.unindex(liveIndex(message.conversationId), [message.id]);
      await messages.unindex(liveBySenderIndex(message.conversationId, message.senderId), [message.id]);
    },

    /** Up to `limit` messages with a sequence below `beforeSeq` (or the newest), oldest first. */
    async history(conversationId: string, limit: number, beforeSeq?: number) {
      const page = await messages.list(historyIndex(conversationId), { order: 'desc', below: beforeSeq, limit });
      return page.reverse();
    },

    /** The newest message of a conversation, if any. */
    async newestMessage(conversationId: string) {
      const [newest] = await messages.list(historyIndex(conversationId), { order: 'desc', limit: 1 });
      return newest;
    },

    /**
     * The next activity mark of an organisation: orders each member's
     * conversation list, strictly, whatever the instances' clocks.
     */
    nextActivity: (orgId: string) => storage.increment(activityCounter(orgId)),

    versioned,

    /** Whether `userId` is a member now: one score lookup (or the list of a previous version's record). */
    async isMember(conversation: ConversationRecord, userId: string) {
      if (conversation.memberIds) return conversation.memberIds.includes(userId);
      return (await conversations.score(membersIndex(conversation.id), userId)) !== undefined;
    },

    /**
     * The conversation if `userId` is a member of it: its record and the
     * score lookup sent together (one round trip). They go on one
     * connection, in this order (one slot on a cluster), so the lookup sees
     * the membership of the record read or a later one, as if read after it.
     */
    async getIfMember(id: string, userId: string): Promise<ConversationRecord | undefined> {
      const [conversation, score] = await Promise.all([
        conversations.get(id),
        conversations.score(membersIndex(id), userId),
      ]);
      if (!conversation) return undefined;
      const member = conversation.memberIds ? conversation.memberIds.includes(userId) : score !== undefined;
      return member ? conversation : undefined;
    },

    /** The members of a conversation as stored now, in join order (a read of its own: see {@link membership}). */
    memberIds: memberIdsOf,

    /**
     * The conversation and its members at one membership version (the
     * record read again after the list, until its version did not move);
     * undefined when it does not exist.
     */
    async membership(id: string): Promise<ConversationWithMembers | undefined> {
      let conversation = await conversations.get(id);
      for (let attempt = 0; conversation; attempt++) {
        const memberIds = await memberIdsOf(conversation);
        if (conversation.memberIds) return { ...conversation, memberIds };
        const again = await conversations.get(id);
        if (again?.membersVersion === conversation.membersVersion || attempt >= MAX_MEMBER_ATTEMPTS) {
          return { ...conversation, memberIds };
        }
        conversation = again;
      }
      return undefined;
    },

    /**
     * Stores a new conversation (version 0) with its members, in join order,
     * its members' and its organisation's index entries (`activity`, the
     * next activity mark) and its `events`, in one write; false when the id is taken.
     */
    async create(
      conversation: ConversationRecord,
      memberIds: readonly string[],
      activity: number,
      events: readonly ChangeEvent[],
    ) {
      const record: ConversationRecord = {
        ...withoutList(conversation),
        memberCount: memberIds.length,
        membersVersion: 0,
      };
      return conversations.insert(
        record,
        [
          { index: activityIndex(conversation.orgId), score: activity },
          ...memberEntries(record, memberIds, 0, activity),
        ],
        events,
      );
    },

    /**
     * Changes the members of a conversation: `change` (pure: it may run
     * again) is given the members at the record's version and returns the
     * new list (existing members keep their place, the new ones last), or
     * undefined for no change. The record's `membersVersion` and
     * `memberCount`, the members index, the joining and leaving members' own
     * indexes (joining at the activity mark `activity`) and the `events`
     * made from both versions are written in one atomic step, only while
     * the membership is still the one read (else read again). Moves a
     * previous version's list out first. Undefined when the conversation
     * does not exist.
     */
    async changeMembers(
      id: string,
      change: MembersChange,
      activity: number,
      events: (after: ConversationWithMembers, before: ConversationWithMembers) => readonly ChangeEvent[],
    ): Promise<{ before: ConversationWithMembers; after: ConversationWithMembers; changed: boolean } | undefined> {
      for (let attempt = 0; attempt < MAX_MEMBER_ATTEMPTS; attempt++) {
        const found = await conversations.get(id);
        if (!found) return undefined;
        const seen = await versioned(found);
        const version = seen.membersVersion ?? 0;
        const beforeIds = await memberIdsOf(seen);
        let stale = false;
        let afterIds: string[] = beforeIds;
        let joining: string[] = [];
        let leaving: string[] = [];
        const result = await conversations.update(
          id,
          (current) => {
            // The members read belong to this version only: another change in between, read again.
            if (current.memberIds !== undefined || current.membersVersion !== version) {
              stale = true;
              return undefined;
            }
            const next = change(beforeIds, current);
            afterIds = beforeIds;
            if (!next) return undefined;
            const was = new Set(beforeIds);
            const now = new Set(next);
            afterIds = next;
            joining = next.filter((userId) => !was.has(userId));
            leaving = beforeIds.filter((userId) => !now.has(userId));
            return { ...current, memberCount: next.length, membersVersion: version + 1 };
          },
          // Only the members who leave (as the old version's entries) and join (the new one's) move.
          (record) =>
            record.membersVersion === version
              ? memberEntries(record, leaving, version, activity)
              : memberEntries(record, joining, version + 1, activity),
          (after, before) => events({ ...after, memberIds: afterIds }, { ...before, memberIds: beforeIds }),
        );
        if (stale) continue;
        if (!result) return undefined;
        return {
          before: { ...result.before, memberIds: beforeIds },
          after: { ...result.after, memberIds: afterIds },
          changed: result.changed,
        };
      }
      throw new Error(`Membership change of ${id} kept conflicting`);
    },

    /** The idempotency claim of a sender's `clientMessageId` in a conversation (see `createOnce`). */
    clientMessageClaim: (conversationId: string, senderId: string, clientMessageId: string) =>
      `client-message:${digest([conversationId, senderId, clientMessageId])}`,

    readPointer,

    /**
     * A member's unread count: live messages of others after their read
     * pointer (up to sequence `upTo`, when given: the count as of then), and
     * the pointer's sequence. Derived on read: a send writes nothing per member.
     */
    async unreadCount(conversationId: string, userId: string, upTo?: number) {
      const pointer = await readPointer(conversationId, userId);
      return { count: await unreadAfter(conversationId, userId, pointer.seq, upTo), readSeq: pointer.seq };
    },

    /**
     * Appends a message (its `seq` and the conversation's `lastMessageSeq`
     * given as {@link SEQUENCE_PENDING}) to a conversation whose membership
     * is still the version the caller read (`membersVersion`, so the
     * events' addressing is exact), with its `events`, in one atomic write:
     * numbered, indexed, the conversation's last message set, its activity
     * moved up (one score: members' lists are ranked when read).
     */
    async appendMessage(conversation: ConversationRecord, message: MessageRecord, events: readonly ChangeEvent[]) {
      const outcome = await storage.append(
        {
          collection: 'messages',
          doc: message,
          ttlMs: messagesSeconds * 1000,
          indexes: messageEntries(message),
          sequence: { counter: seqCounter(conversation.id), fields: ['seq', 'lastMessageSeq', 'asOfSeq'] },
          parent: {
            collection: 'conversations',
            id: conversation.id,
            holds: { field: 'membersVersion', value: conversation.membersVersion ?? 0 },
            set: { lastMessageId: message.id, lastMessageSeq: SEQUENCE_PENDING, lastActivityAt: message.createdAt },
          },
          touch: {
            counter: activityCounter(conversation.orgId),
            indexes: [activityIndex(conversation.orgId)],
          },
        },
        events,
      );
      if (outcome.status === 'appended' && messagesSeconds > 0) {
        // Unread counts drop expired messages from the indexes they count: the
        // conversation's by any member, a sender's own only by that sender's
        // counts. Counting the sender's index here trims it (see `withRetention`),
        // so a member who sends but never reads keeps no entries of expired messages.
        await messages.count(liveBySenderIndex(message.conversationId, message.senderId));
      }
      return outcome;
    },

    /**
     * Moves a member's read pointer forward to `seq` (never back), recording
     * `events` with the move. Resolves true when it moved.
     */
    async advanceReadPointer(
      conversationId: string,
      userId: string,
      seq: number,
      messageId: string | null,
      events: readonly ChangeEvent[] = [],
    ) {
      const id = readPointerId(conversationId, userId);
      if (await reads.insert({ id, seq, messageId }, [], seq > 0 ? events : [])) return seq > 0;
      const result = await reads.update(
        id,
        (pointer) => (seq > pointer.seq ? { id, seq, messageId } : undefined),
        undefined,
        () => events,
      );
      return result?.changed ?? false;
    },
  };
}

/** The storage layout of the conversations domain, for one organisation. */
export type ConversationStore = ReturnType<typeof createOrgConversationStore>;
