import type { Viewer } from '../auth/viewer.js';
import { badInput, notFound } from '../errors.js';
import type { MessageStatus } from '../generated/graphql.js';
import { createOnce } from '../lib/idempotency.js';
import { now } from '../lib/ids.js';
import { requireId } from '../lib/validate.js';
import { assertCanDeleteMessage, assertCanEditMessage, assertCanReportMessageStatus, isMember } from './access.js';
import type { ConversationRecord, MessageRecord } from './model.js';
import {
  advancesStatus,
  clientMessageId as validClientMessageId,
  LIMITS,
  messageBody,
  pageLimit,
  reactionEmoji,
  toggleReaction,
} from './rules.js';
import type { ConversationContext } from './service.js';
import { SEQUENCE_PENDING } from './store.js';

/** Re-reads of a conversation whose members changed while a send was being written, before giving up. */
const MAX_APPEND_ATTEMPTS = 50;

/** Sending, editing, deleting, reacting to and paging store(viewer.orgId).messages. */
export function createMessageOperations({ store, publisher, getVisible, stopTyping }: ConversationContext) {
  /** A message of a conversation the viewer is a member of; NOT_FOUND otherwise. */
  const getVisibleMessage = async (viewer: Viewer, id: string, field: string) => {
    requireId(field, id);
    const message = await store(viewer.orgId).messages.get(id);
    const conversation = message && (await store(viewer.orgId).conversations.get(message.conversationId));
    if (!message || !conversation || !(await isMember(viewer, conversation, store))) {
      throw notFound('Message', id);
    }
    return { message, conversation };
  };

  const deletedError = (field: string) => badInput('The message was deleted', field);

  return {
    async history(viewer: Viewer, conversationId: string, limit?: number | null, before?: string | null) {
      const count = pageLimit('limit', limit, 50, LIMITS.pageSize);
      if (before !== null && before !== undefined) requireId('before', before);
      const conversation = await getVisible(viewer, conversationId, 'conversationId');
      let beforeSeq: number | undefined;
      if (before !== null && before !== undefined) {
        const cursor = await store(viewer.orgId).messages.get(before);
        if (!cursor || cursor.conversationId !== conversation.id) throw notFound('Message', before);
        beforeSeq = cursor.seq;
      }
      return store(viewer.orgId).history(conversation.id, count, beforeSeq);
    },

    /**
     * Sends a message. With a `clientMessageId`, the first send claims a
     * message id for it (kept 24 h) and every repeat uses the same id; the
     * message is appended by a write that succeeds only once per id, so
     * racing duplicates create one message and all return it. That one
     * write (one Redis script, whatever the member count) numbers and
     * stores the message, sets the conversation's last message, moves its
     * activity score (members' lists are ranked by it when read) and
     * records `MessageAdded`, `ConversationUpdated` and
     * `UnreadCountChanged`, each published once and addressed by the
     * membership version, without a member list (see `Addressing`). It
     * commits only while the conversation still has that version;
     * otherwise it reads the conversation again (NOT_FOUND once the sender
     * was removed).
     */
    async send(
      viewer: Viewer,
      conversationId: string,
      body: string,
      clientMessageId?: string | null,
    ): Promise<MessageRecord> {
      const text = messageBody(body);
      const clientId = validClientMessageId(clientMessageId);
      const first = await getVisible(viewer, conversationId, 'conversationId');
      const sent = await createOnce(store(viewer.orgId).storage, {
        claim: clientId === null ? undefined : store(viewer.orgId).clientMessageClaim(first.id, viewer.id, clientId),
        find: (id) => store(viewer.orgId).messages.get(id),
        create: async (id) => {
          for (let attempt = 0, conversation = await store(viewer.orgId).versioned(first); ; attempt++) {
            const message: MessageRecord = {
              id,
              orgId: conversation.orgId,
              conversationId: conversation.id,
              seq: SEQUENCE_PENDING,
              senderId: viewer.id,
              body: text,
              status: 'QUEUED',
              reactions: [],
              clientMessageId: clientId,
              createdAt: now(),
              editedAt: null,
              deleted: false,
            };
            const after: ConversationRecord = {
              ...conversation,
              lastMessageId: id,
              lastMessageSeq: SEQUENCE_PENDING,
              lastActivityAt: message.createdAt,
            };
            const outcome = await store(viewer.orgId).appendMessage(conversation, message, [
              publisher.conversationEvent(conversation, {
                __typename: 'MessageAdded',
                message,
                occurredAt: message.createdAt,
              }),
              publisher.conversationUpdated(after),
              publisher.unreadCountChanged(after, { except: viewer.id }, { asOfSeq: SEQUENCE_PENDING }),
            ]);
            if (outcome.status === 'appended') return { ...message, seq: outcome.seq };
            if (outcome.status === 'taken') return undefined;
            if (attempt >= MAX_APPEND_ATTEMPTS) throw new Error(`Send to ${conversation.id} kept conflicting`);
            conversation = await store(viewer.orgId).versioned(
              await getVisible(viewer, conversationId, 'conversationId'),
            );
          }
        },
      });
      // Also on a repeat: the first attempt may have stopped before this.
      await stopTyping(first, viewer.id);
      return sent;
    },

    async edit(viewer: Viewer, id: string, body: string): Promise<MessageRecord> {
      const text = messageBody(body);
      const { message, conversation } = await getVisibleMessage(viewer, id, 'id');
      assertCanEditMessage(viewer, message);
      if (message.deleted) throw deletedError('id');
      const result = await store(viewer.orgId).messages.update(
        id,
        (current) =>
          current.deleted || current.body === text ? undefined : { ...current, body: text, editedAt: now() },
        undefined,
        (after) => [
          publisher.conversationEvent(conversation, {
            __typename: 'MessageEdited',
            message: after,
            occurredAt: after.editedAt ?? now(),
          }),
        ],
      );
      if (!result) throw notFound('Message', id);
      const { after, changed } = result;
      if (after.deleted) throw deletedError('id');
      if (changed) await announceIfLast(after);
      return after;
    },

    async remove(viewer: Viewer, id: string): Promise<MessageRecord> {
      const { message, conversation } = await getVisibleMessage(viewer, id, 'id');
      assertCanDeleteMessage(viewer, message);
      const deletedAt = now();
      const result = await store(viewer.orgId).messages.update(
        id,
        (current) => (current.deleted ? undefined : { ...current, deleted: true, body: '', reactions: [] }),
        undefined,
        () => [
          publisher.conversationEvent(conversation, {
            __typename: 'MessageDeleted',
            messageId: id,
            occurredAt: deletedAt,
          }),
        ],
      );
      if (!result) throw notFound('Message', id);
      const { after, changed } = result;
      // Also when already deleted: completes a delete that stopped half-way.
      await store(viewer.orgId).unindexDeleted(after);
      if (changed) {
        // Those who had not read it (read pointer below it) hear their new count.
        await publisher.publishUnreadCountChanged(conversation, { except: after.senderId }, { unreadAt: after.seq });
        await announceIfLast(after);
      }
      return after;
    },

    async react(viewer: Viewer, messageId: string, emoji: string): Promise<MessageRecord> {
      const chosen = reactionEmoji(emoji);
      const { message, conversation } = await getVisibleMessage(viewer, messageId, 'messageId');
      if (message.deleted) throw deletedError('messageId');
      const result = await store(viewer.orgId).messages.update(
        messageId,
        (current) => {
          if (current.deleted) throw deletedError('messageId');
          return { ...current, reactions: toggleReaction(current.reactions, chosen, viewer.id) };
        },
        undefined,
        (after) => [
          publisher.conversationEvent(conversation, {
            __typename: 'ReactionsChanged',
            message: after,
            occurredAt: now(),
          }),
        ],
      );
      if (!result) throw notFound('Message', messageId);
      return result.after;
    },

    /** The gateway's delivery report: applied and published only when it moves the status forward. */
    async updateStatus(viewer: Viewer, messageId: string, status: MessageStatus): Promise<MessageRecord> {
      assertCanReportMessageStatus(viewer);
      requireId('messageId', messageId);
      const message = await store(viewer.orgId).messages.get(messageId);
      if (!message || message.orgId !== viewer.orgId) throw notFound('Message', messageId);
      const conversation = await store(viewer.orgId).conversations.get(message.conversationId);
      if (!conversation) throw notFound('Message', messageId);
      const result = await store(viewer.orgId).messages.update(
        messageId,
        (current) => (advancesStatus(current.status, status) ? { ...current, status } : undefined),
        undefined,
        (after) => [
          publisher.conversationEvent(conversation, {
            __typename: 'MessageStatusChanged',
            messageId,
            status: after.status,
            occurredAt: now(),
          }),
        ],
      );
      if (!result) throw notFound('Message', messageId);
      return result.after;
    },
  };

  /** Inboxes show the last message: tell the members when it was edited or deleted. */
  async function announceIfLast(message: MessageRecord) {
    const conversation = await store(message.orgId).conversations.get(message.conversationId);
    if (conversation?.lastMessageId === message.id) await publisher.publishConversationUpdated(conversation);
  }
}
