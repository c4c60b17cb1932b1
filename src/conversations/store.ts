import { digest } from '../lib/idempotency.js';
import { keyPart } from '../lib/keys.js';
import { retentionOf, type ChangeEvent, type IndexEntry, type Storage } from '../storage/index.js';
import { readPointerId, type ConversationRecord, type MessageRecord, type ReadPointerRecord } from './model.js';

/**
 * The storage layout of conversations and messages, in one place.
 *
 * - `conversations`, indexed per member (`member:<org>:<user>`) by last activity
 *   (an organisation-wide counter, so the order is strict).
 * - `messages`, indexed per conversation by sequence: `history:<c>` holds every
 *   message (tombstones too) for paging; `live:<c>` and `live:<c>:<sender>` only
 *   those not deleted, so a viewer's unread count is two range counts:
 *   live messages after their pointer minus their own live messages after it.
 * - `conversationReads`, one read pointer per member.
 * - With `MESSAGE_RETENTION_SECONDS`, messages expire that long after they
 *   were sent, and read pointers that long after they last moved (a pointer
 *   that old covers only messages already gone, so losing it changes no count).
 * - A counter per conversation hands out message sequences; a claim per
 *   sender, conversation and `clientMessageId` makes sending idempotent.
 */
export function createConversationStore(storage: Storage, { messagesSeconds = 0 }: { messagesSeconds?: number } = {}) {
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

  const readPointer = async (conversationId: string, userId: string) =>
    (await reads.get(readPointerId(conversationId, userId))) ?? {
      id: readPointerId(conversationId, userId),
      seq: 0,
      messageId: null,
    };

  const unreadAfter = async (conversationId: string, userId: string, seq: number) => {
    const [all, own] = await Promise.all([
      messages.count(liveIndex(conversationId), { above: seq }),
      messages.count(liveBySenderIndex(conversationId, userId), { above: seq }),
    ]);
    // Two reads: a message of the viewer's landing between them could skew by one for a moment.
    return Math.max(0, all - own);
  };

  return {
    storage,
    conversations,
    messages,

    /** The index of a user's conversations, by last activity. */
    memberIndex: (orgId: string, userId: string) => `member:${keyPart(orgId)}:${keyPart(userId)}`,

    /** Where a new message is indexed. */
    messageEntries: (message: MessageRecord): IndexEntry[] => [
      { index: historyIndex(message.conversationId), score: message.seq },
      { index: liveIndex(message.conversationId), score: message.seq },
      { index: liveBySenderIndex(message.conversationId, message.senderId), score: message.seq },
    ],

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
    nextActivity: (orgId: string) => storage.increment(`conversation-activity:${orgId}`),

    /** The next message sequence of a conversation (from 1, never reused). */
    nextSeq: (conversationId: string) => storage.increment(`conversation-seq:${conversationId}`),

    /** The idempotency claim of a sender's `clientMessageId` in a conversation (see `createOnce`). */
    clientMessageClaim: (conversationId: string, senderId: string, clientMessageId: string) =>
      `client-message:${digest([conversationId, senderId, clientMessageId])}`,

    readPointer,

    /** A member's unread count: live messages of others after their read pointer. */
    async unreadCount(conversationId: string, userId: string) {
      const pointer = await readPointer(conversationId, userId);
      return unreadAfter(conversationId, userId, pointer.seq);
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

/** The storage layout of the conversations domain. */
export type ConversationStore = ReturnType<typeof createConversationStore>;
