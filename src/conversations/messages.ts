import type { Viewer } from '../auth/viewer.js';
import { badInput, notFound } from '../errors.js';
import type { MessageStatus } from '../generated/graphql.js';
import { newId, now } from '../lib/ids.js';
import { requireId } from '../lib/validate.js';
import { assertCanDeleteMessage, assertCanEditMessage, assertCanReportMessageStatus, isMember } from './access.js';
import type { MessageRecord } from './model.js';
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

/** Sending, editing, deleting, reacting to and paging messages. */
export function createMessageOperations({ store, publisher, getVisible, stopTyping }: ConversationContext) {
  const { conversations, messages } = store;

  /** A message of a conversation the viewer is a member of; NOT_FOUND otherwise. */
  const getVisibleMessage = async (viewer: Viewer, id: string, field: string) => {
    requireId(field, id);
    const message = await messages.get(id);
    const conversation = message && (await conversations.get(message.conversationId));
    if (!message || !conversation || !isMember(viewer, conversation)) throw notFound('Message', id);
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
        const cursor = await messages.get(before);
        if (!cursor || cursor.conversationId !== conversation.id) throw notFound('Message', before);
        beforeSeq = cursor.seq;
      }
      return store.history(conversation.id, count, beforeSeq);
    },

    /**
     * Sends a message. With a `clientMessageId`, the first send claims a
     * message id for it (kept 24 h) and every repeat uses the same id; the
     * message is created by an insert that succeeds only once per id, so
     * racing duplicates create one message, publish once, and all return it.
     */
    async send(
      viewer: Viewer,
      conversationId: string,
      body: string,
      clientMessageId?: string | null,
    ): Promise<MessageRecord> {
      const text = messageBody(body);
      const clientId = validClientMessageId(clientMessageId);
      const conversation = await getVisible(viewer, conversationId, 'conversationId');

      let id = newId();
      if (clientId) {
        id = await store.claimClientMessageId(conversation.id, viewer.id, clientId, id);
        const existing = await messages.get(id);
        if (existing) return existing;
      }
      const message: MessageRecord = {
        id,
        orgId: conversation.orgId,
        conversationId: conversation.id,
        seq: await store.nextSeq(conversation.id),
        senderId: viewer.id,
        body: text,
        status: 'QUEUED',
        reactions: [],
        clientMessageId: clientId,
        createdAt: now(),
        editedAt: null,
        deleted: false,
      };
      if (!(await messages.insert(message, store.messageEntries(message)))) {
        // A duplicate send won the race: its message is the one.
        const winner = await messages.get(id);
        if (!winner) throw new Error(`Message ${id} was claimed but is missing`);
        return winner;
      }

      const updated = await conversations.update(conversation.id, (current) =>
        message.seq > current.lastMessageSeq
          ? { ...current, lastMessageId: message.id, lastMessageSeq: message.seq, lastActivityAt: message.createdAt }
          : undefined,
      );
      const current = updated?.after ?? conversation;
      await publisher.conversation(current, { __typename: 'MessageAdded', message, occurredAt: message.createdAt });
      if (updated?.changed) {
        const score = await store.nextActivity(current.orgId);
        await Promise.all(
          current.memberIds.map((userId) =>
            conversations.index(store.memberIndex(current.orgId, userId), [{ id: current.id, score }]),
          ),
        );
        await publisher.conversationUpdated(current);
      }
      await publisher.unreadCountChanged(
        current,
        current.memberIds.filter((userId) => userId !== viewer.id),
      );
      await stopTyping(current, viewer.id);
      return message;
    },

    async edit(viewer: Viewer, id: string, body: string): Promise<MessageRecord> {
      const text = messageBody(body);
      const { message, conversation } = await getVisibleMessage(viewer, id, 'id');
      assertCanEditMessage(viewer, message);
      if (message.deleted) throw deletedError('id');
      const result = await messages.update(id, (current) =>
        current.deleted || current.body === text ? undefined : { ...current, body: text, editedAt: now() },
      );
      if (!result) throw notFound('Message', id);
      const { after, changed } = result;
      if (after.deleted) throw deletedError('id');
      if (changed) {
        await publisher.conversation(conversation, {
          __typename: 'MessageEdited',
          message: after,
          occurredAt: after.editedAt ?? now(),
        });
        await announceIfLast(after);
      }
      return after;
    },

    async remove(viewer: Viewer, id: string): Promise<MessageRecord> {
      const { message, conversation } = await getVisibleMessage(viewer, id, 'id');
      assertCanDeleteMessage(viewer, message);
      const result = await messages.update(id, (current) =>
        current.deleted ? undefined : { ...current, deleted: true, body: '', reactions: [] },
      );
      if (!result) throw notFound('Message', id);
      const { after, changed } = result;
      // Also when already deleted: completes a delete that stopped half-way.
      await store.unindexDeleted(after);
      if (changed) {
        await publisher.conversation(conversation, { __typename: 'MessageDeleted', messageId: id, occurredAt: now() });
        const others = conversation.memberIds.filter((userId) => userId !== after.senderId);
        const pointers = await Promise.all(others.map((userId) => store.readPointer(conversation.id, userId)));
        await publisher.unreadCountChanged(
          conversation,
          others.filter((_, index) => pointers[index]!.seq < after.seq),
        );
        await announceIfLast(after);
      }
      return after;
    },

    async react(viewer: Viewer, messageId: string, emoji: string): Promise<MessageRecord> {
      const chosen = reactionEmoji(emoji);
      const { message, conversation } = await getVisibleMessage(viewer, messageId, 'messageId');
      if (message.deleted) throw deletedError('messageId');
      const result = await messages.update(messageId, (current) => {
        if (current.deleted) throw deletedError('messageId');
        return { ...current, reactions: toggleReaction(current.reactions, chosen, viewer.id) };
      });
      if (!result) throw notFound('Message', messageId);
      await publisher.conversation(conversation, {
        __typename: 'ReactionsChanged',
        message: result.after,
        occurredAt: now(),
      });
      return result.after;
    },

    /** The gateway's delivery report: applied and published only when it moves the status forward. */
    async updateStatus(viewer: Viewer, messageId: string, status: MessageStatus): Promise<MessageRecord> {
      assertCanReportMessageStatus(viewer);
      requireId('messageId', messageId);
      const message = await messages.get(messageId);
      if (!message || message.orgId !== viewer.orgId) throw notFound('Message', messageId);
      const result = await messages.update(messageId, (current) =>
        advancesStatus(current.status, status) ? { ...current, status } : undefined,
      );
      if (!result) throw notFound('Message', messageId);
      if (result.changed) {
        const conversation = await conversations.get(message.conversationId);
        if (conversation) {
          await publisher.conversation(conversation, {
            __typename: 'MessageStatusChanged',
            messageId,
            status: result.after.status,
            occurredAt: now(),
          });
        }
      }
      return result.after;
    },
  };

  /** Inboxes show the last message: tell the members when it was edited or deleted. */
  async function announceIfLast(message: MessageRecord) {
    const conversation = await conversations.get(message.conversationId);
    if (conversation?.lastMessageId === message.id) await publisher.conversationUpdated(conversation);
  }
}
