import type { Resolvers } from '../generated/graphql.js';
import { yieldedEvent } from '../errors.js';

/** Conversations and messages: thin resolvers over {@link ConversationService}. */
export const conversationResolvers: Resolvers = {
  Query: {
    conversation: (_, { id }, { viewer, services }) => services.conversations.get(viewer, id),
    conversations: (_, { limit, before }, { viewer, services }) => services.conversations.list(viewer, limit, before),
    messages: (_, { conversationId, limit, before }, { viewer, services }) =>
      services.conversations.history(viewer, conversationId, limit, before),
  },
  Mutation: {
    createConversation: (_, { title, memberIds, idempotencyKey }, { viewer, services }) =>
      services.conversations.create(viewer, title, memberIds, idempotencyKey),
    addConversationMembers: (_, { conversationId, userIds }, { viewer, services }) =>
      services.conversations.addMembers(viewer, conversationId, userIds),
    removeConversationMember: (_, { conversationId, userId }, { viewer, services }) =>
      services.conversations.removeMember(viewer, conversationId, userId),
    sendMessage: (_, { conversationId, body, clientMessageId }, { viewer, services }) =>
      services.conversations.send(viewer, conversationId, body, clientMessageId),
    editMessage: (_, { id, body }, { viewer, services }) => services.conversations.edit(viewer, id, body),
    deleteMessage: (_, { id }, { viewer, services }) => services.conversations.remove(viewer, id),
    reactToMessage: (_, { messageId, emoji }, { viewer, services }) =>
      services.conversations.react(viewer, messageId, emoji),
    markConversationRead: (_, { conversationId, upToMessageId }, { viewer, services }) =>
      services.conversations.markRead(viewer, conversationId, upToMessageId),
    setTyping: (_, { conversationId, isTyping }, { viewer, services }) =>
      services.conversations.setTyping(viewer, conversationId, isTyping),
    updateMessageStatus: (_, { messageId, status }, { viewer, services }) =>
      services.conversations.updateStatus(viewer, messageId, status),
  },
  Subscription: {
    conversationEvents: {
      subscribe: (_, { conversationId }, { viewer, services, accessSignal }) =>
        services.conversations.subscribe(viewer, conversationId, accessSignal()),
      resolve: yieldedEvent,
    },
    inboxEvents: {
      subscribe: (_, __, { viewer, services, accessSignal }) => services.conversations.inbox(viewer, accessSignal()),
      resolve: yieldedEvent,
    },
  },
  UnreadCountChanged: {
    unreadCount: (event, _, { viewer, services }) => services.conversations.unreadCountAsOf(viewer, event),
  },
  Conversation: {
    // Read only when asked for: the record holds a count, the members are kept apart.
    memberIds: (conversation, _, { viewer, services }) => services.conversations.memberIds(viewer, conversation),
    unreadCount: (conversation, _, { viewer, services }) => services.conversations.unreadCount(viewer, conversation),
    lastMessage: (conversation, _, { viewer, services }) => services.conversations.lastMessage(viewer, conversation),
  },
};
