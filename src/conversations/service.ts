import type { Viewer } from '../auth/viewer.js';
import { badInput, notFound } from '../errors.js';
import { DEFAULT_RETENTION, type RetentionConfig } from '../config.js';
import type { EventBus } from '../events/bus.js';
import { subscribe } from '../events/subscribe.js';
import { topics } from '../events/topics.js';
import { createOnce, idempotencyKey, idempotencyScope } from '../lib/idempotency.js';
import { now } from '../lib/ids.js';
import { requireId, requireUserId } from '../lib/validate.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/index.js';
import {
  assertCanRemoveMember,
  canReceiveConversationEvent,
  isMember,
  readAsMember,
  revokesConversationAccess,
} from './access.js';
import { createMessageOperations } from './messages.js';
import type { ConversationRecord, ConversationWithMembers, MessageRecord } from './model.js';
import { createConversationPublisher, type ConversationPublisher } from './publish.js';
import { conversationTitle, LIMITS, pageLimit, userIdList } from './rules.js';
import { createConversationStore, type ConversationStore, type MembersChange } from './store.js';
import { createTyping } from './typing.js';
import type { UnreadCountChangedPayload } from './events.js';
import { inboxOf, inboxVerdict } from './inbox.js';
import { createMemberships } from './memberships.js';
import { DEFAULT_CONVERSATION_CONFIG, type ConversationConfig } from '../config.js';
import type { AccessSignal } from '../lib/access-signal.js';

/** Conversations and messages: state, authorization and events, whatever the transport. */
export type ConversationService = ReturnType<typeof createConversationService>;

/** What the conversation operations share. */
export interface ConversationContext {
  /** The conversations store of an organisation (its own slot on a Redis Cluster). */
  store: (orgId: string) => ConversationStore;
  publisher: ConversationPublisher;
  /** The conversation if the viewer is a member; NOT_FOUND otherwise (missing and foreign read the same). */
  getVisible(viewer: Viewer, id: string, field?: string): Promise<ConversationRecord>;
  /** Clears a member's typing indicator, publishing `TypingChanged` false if it was on. */
  stopTyping(conversation: ConversationRecord, userId: string): Promise<boolean>;
}

/** Creates the conversations domain over a storage backend and an event bus. */
export function createConversationService({
  storage,
  bus,
  logger,
  background = true,
  config = DEFAULT_CONVERSATION_CONFIG,
  retention = DEFAULT_RETENTION,
}: {
  storage: Storage;
  bus: EventBus;
  logger: Logger;
  background?: boolean;
  config?: ConversationConfig;
  retention?: Pick<RetentionConfig, 'messagesSeconds'>;
}) {
  const { maxMembers } = config;
  const store = createConversationStore(storage, retention);
  const publisher = createConversationPublisher(bus);
  const memberships = createMemberships((orgId, id) => store(orgId).membership(id));

  const getVisible = async (viewer: Viewer, id: string, field = 'id') => {
    requireId(field, id);
    const conversation = await store(viewer.orgId).getIfMember(id, viewer.id);
    // The viewer's organisation's store: another organisation's conversation is not in it; checked anyway.
    if (!conversation || conversation.orgId !== viewer.orgId) throw notFound('Conversation', id);
    return readAsMember(viewer, conversation);
  };

  const typing = createTyping({
    storage,
    logger,
    background,
    publish: async ({ orgId, conversationId, userId }, isTyping) => {
      const conversation = await store(orgId).conversations.get(conversationId);
      if (!conversation || conversation.orgId !== orgId) return;
      await publisher.conversation(conversation, { __typename: 'TypingChanged', userId, isTyping, occurredAt: now() });
    },
  });

  const context: ConversationContext = {
    store,
    publisher,
    getVisible,
    stopTyping: (conversation, userId) => typing.set(conversation, userId, false),
  };

  /**
   * Applies a membership change atomically (a new `membersVersion`, see
   * `ConversationStore.changeMembers`), re-checking the viewer's membership
   * on every attempt, and records its `MembersChanged` for the members
   * after the change (or `audience`). The members' conversation lists
   * change in the same write: a member who joins is listed (as just
   * active), one who leaves is not, so a concurrent removal and re-adding
   * cannot leave them unlisted.
   */
  const changeMembers = async (
    viewer: Viewer,
    id: string,
    change: MembersChange,
    audience: (after: ConversationWithMembers, before: ConversationWithMembers) => string[] | undefined = () =>
      undefined,
  ) => {
    const { orgId } = await getVisible(viewer, id, 'conversationId');
    const occurredAt = now();
    // Those joining move to the top of their lists.
    const activity = await store(orgId).nextActivity(orgId);
    const result = await store(orgId).changeMembers(
      id,
      (memberIds, conversation) => {
        if (conversation.orgId !== viewer.orgId || !memberIds.includes(viewer.id)) throw notFound('Conversation', id);
        return change(memberIds, conversation);
      },
      activity,
      (after, before) => [
        publisher.conversationEvent(
          after,
          { __typename: 'MembersChanged', memberIds: after.memberIds, occurredAt },
          audience(after, before),
        ),
      ],
    );
    if (!result) throw notFound('Conversation', id);
    return result;
  };

  return {
    ...createMessageOperations(context),

    get: (viewer: Viewer, id: string) => getVisible(viewer, id),

    /** The viewer's conversations, most recently active first, a page at a time after `before`. */
    async list(viewer: Viewer, limit?: number | null, before?: string | null): Promise<ConversationRecord[]> {
      const count = pageLimit('limit', limit, 100, LIMITS.conversationsPage);
      const cursor = before == null ? undefined : requireId('before', before);
      const { conversations, memberPage } = store(viewer.orgId);
      const ids = await memberPage(viewer.orgId, viewer.id, { limit: count, before: cursor });
      if (!ids) throw notFound('Conversation', cursor ?? '');
      const found = await conversations.getMany(ids);
      const members = await Promise.all(found.map((conversation) => isMember(viewer, conversation, store)));
      return found.filter((_, i) => members[i]).map((conversation) => readAsMember(viewer, conversation));
    },

    /**
     * Starts a conversation; its `ConversationUpdated` to every member's
     * inbox is recorded with it. With an idempotency key, a repeat returns
     * the first call's conversation.
     */
    async create(viewer: Viewer, title: string | null | undefined, memberIds: readonly string[], key?: string | null) {
      const memberList = [...new Set([viewer.id, ...userIdList('memberIds', memberIds, { max: maxMembers })])];
      if (memberList.length > maxMembers) {
        throw badInput(`a conversation has at most ${maxMembers} members, the caller included`, 'memberIds');
      }
      const chosenTitle = conversationTitle(title);
      const { conversations, create, nextActivity } = store(viewer.orgId);
      return createOnce(storage.forOrg(viewer.orgId), {
        claim: idempotencyScope(viewer, 'createConversation', idempotencyKey(key)),
        args: { title: chosenTitle, memberIds: memberList },
        find: async (id) => {
          const found = await conversations.get(id);
          return found && (await isMember(viewer, found, store)) ? found : undefined;
        },
        create: async (id) => {
          const timestamp = now();
          const conversation: ConversationWithMembers = {
            id,
            orgId: viewer.orgId,
            title: chosenTitle,
            memberCount: memberList.length,
            membersVersion: 0,
            creatorId: viewer.id,
            createdAt: timestamp,
            lastMessageId: null,
            lastMessageSeq: 0,
            lastActivityAt: timestamp,
            memberIds: memberList,
          };
          const activity = await nextActivity(viewer.orgId);
          const inserted = await create(conversation, memberList, activity, [
            publisher.conversationUpdated(conversation, { members: true }),
          ]);
          return inserted ? conversation : undefined;
        },
      });
    },

    async addMembers(viewer: Viewer, id: string, userIds: readonly string[]) {
      const wanted = userIdList('userIds', userIds, { min: 1, max: maxMembers });
      const { before, after, changed } = await changeMembers(viewer, id, (memberIds, conversation) => {
        const present = new Set(memberIds);
        const added = wanted.filter((userId) => !present.has(userId));
        if (added.length === 0) return undefined;
        // Count-based: the record holds the count (a previous version's record, its list).
        if ((conversation.memberCount ?? memberIds.length) + added.length > maxMembers) {
          throw badInput(`a conversation has at most ${maxMembers} members`, 'userIds');
        }
        return [...memberIds, ...added];
      });
      if (!changed) return after;
      const was = new Set(before.memberIds);
      const joined = after.memberIds.filter((userId) => !was.has(userId));
      // History before joining counts as read.
      await Promise.all(
        joined.map((userId) =>
          store(viewer.orgId).advanceReadPointer(after.id, userId, after.lastMessageSeq, after.lastMessageId),
        ),
      );
      await publisher.publishConversationUpdated(after, { members: true });
      return after;
    },

    async removeMember(viewer: Viewer, id: string, userId: string) {
      requireUserId('userId', userId);
      // The removed member hears MembersChanged last: their subscriptions end with it.
      const { before, after, changed } = await changeMembers(
        viewer,
        id,
        (memberIds, conversation) => {
          assertCanRemoveMember(viewer, conversation, userId);
          if (!memberIds.includes(userId)) return undefined;
          return memberIds.filter((memberId) => memberId !== userId);
        },
        (_, previous) => previous.memberIds,
      );
      if (!changed) return after;
      await publisher.publishConversationUpdated(after, { audience: before.memberIds });
      await typing.set(after, userId, false);
      return after;
    },

    /** The members of a conversation the viewer sees, in join order: read only when the field is asked for. */
    async memberIds(viewer: Viewer, conversation: ConversationRecord): Promise<string[]> {
      if (conversation.memberIds) return conversation.memberIds;
      if (conversation.orgId !== viewer.orgId) return [];
      return store(viewer.orgId).memberIds(conversation);
    },

    /**
     * The viewer's unread count of a conversation (0 unless a member), up
     * to its last message as the record has it: for a conversation an
     * event carries, the count as of that event.
     */
    async unreadCount(viewer: Viewer, conversation: ConversationRecord): Promise<number> {
      if (!(await isMember(viewer, conversation, store))) return 0;
      return (await store(viewer.orgId).unreadCount(conversation.id, viewer.id, conversation.lastMessageSeq)).count;
    },

    /** The viewer's unread count for an `UnreadCountChanged` published for them, as of that event. */
    async unreadCountAsOf(viewer: Viewer, event: UnreadCountChangedPayload): Promise<number> {
      return (await store(viewer.orgId).unreadCount(event.conversationId, viewer.id, event.asOfSeq)).count;
    },

    /** The conversation's newest message as the viewer may see it (null unless a member). */
    async lastMessage(viewer: Viewer, conversation: ConversationRecord): Promise<MessageRecord | null> {
      if (!conversation.lastMessageId || !(await isMember(viewer, conversation, store))) return null;
      return (await store(viewer.orgId).messages.get(conversation.lastMessageId)) ?? null;
    },

    async markRead(viewer: Viewer, id: string, upToMessageId: string | null | undefined) {
      if (upToMessageId !== null && upToMessageId !== undefined) requireId('upToMessageId', upToMessageId);
      const conversation = await getVisible(viewer, id, 'conversationId');
      let target: MessageRecord | undefined;
      if (upToMessageId !== null && upToMessageId !== undefined) {
        target = await store(viewer.orgId).messages.get(upToMessageId);
        if (!target || target.conversationId !== conversation.id) throw notFound('Message', upToMessageId);
      } else {
        target = await store(viewer.orgId).newestMessage(conversation.id);
      }
      if (!target) return conversation;
      const read = publisher.conversationEvent(conversation, {
        __typename: 'MessagesRead',
        userId: viewer.id,
        upToMessageId: target.id,
        occurredAt: now(),
      });
      if (await store(viewer.orgId).advanceReadPointer(conversation.id, viewer.id, target.seq, target.id, [read])) {
        await publisher.publishUnreadCountChanged(
          conversation,
          { audience: [viewer.id] },
          {
            asOfSeq: Math.max(target.seq, conversation.lastMessageSeq),
          },
        );
      }
      return conversation;
    },

    async setTyping(viewer: Viewer, id: string, isTyping: boolean): Promise<boolean> {
      return typing.set(await getVisible(viewer, id, 'conversationId'), viewer.id, isTyping);
    },

    /**
     * Live events of a conversation the viewer is a member of. Ends after
     * the `MembersChanged` that removes them, or when `signal` aborts.
     */
    async subscribe(viewer: Viewer, id: string, signal?: AccessSignal) {
      const conversation = await getVisible(viewer, id, 'conversationId');
      const events = await subscribe(bus, topics.conversation(conversation.orgId, conversation.id), {
        signal,
        filter: (event) => canReceiveConversationEvent(viewer, event),
        isLast: (event) => revokesConversationAccess(viewer, event),
      });
      // Removed while the subscription was being made: its MembersChanged may have gone unheard.
      const current = await store(viewer.orgId).conversations.get(conversation.id);
      if (!current || !(await isMember(viewer, current, store))) {
        await events.return();
        throw notFound('Conversation', id);
      }
      return events;
    },

    /**
     * The viewer's own inbox events: those of their organisation's inbox
     * channel addressed to them (see `inboxOf`: decided from this process's
     * {@link createMemberships}, or by reading the conversation).
     */
    async inbox(viewer: Viewer, signal?: AccessSignal) {
      const known = memberships.forOrg(viewer.orgId);
      const events = await subscribe(bus, topics.inbox(viewer.orgId), {
        signal,
        filter: (event) => inboxVerdict(viewer, event, known) !== false,
      });
      return inboxOf(viewer, events, { store: store(viewer.orgId), memberships: known });
    },

    /** Stops the typing sweeper. */
    close: () => typing.close(),
  };
}
