import type { ResolversParentTypes, ResolversUnionTypes } from '../generated/graphql.js';

/** What `conversationEvents` streams, as the GraphQL union. */
export type ConversationEvent = ResolversUnionTypes<ResolversParentTypes>['ConversationEvent'];

/**
 * An event as published on a conversation's channel: the GraphQL event
 * plus `audience`, the members it was published for (the conversation's
 * members as the publisher saw them; for `MembersChanged`, those before and
 * after). A subscriber outside the audience never receives it, so an event
 * published after someone's removal cannot reach them even if it overtakes
 * `MembersChanged` on the way. GraphQL never exposes `audience`.
 */
export type ConversationEventPayload = ConversationEvent & { audience: string[] };

/** What `inboxEvents` streams, exactly as published on a user's inbox channel. */
export type InboxEvent = ResolversUnionTypes<ResolversParentTypes>['InboxEvent'];
