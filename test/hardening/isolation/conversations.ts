import { randomUUID } from 'node:crypto';
import { user } from '../../support/harness.js';
import type { Attempt, AttackerKind, Fixtures, World } from './types.js';

const MESSAGE = 'id conversationId senderId body status reactions { emoji userIds } createdAt editedAt deleted';
const CONVERSATION = `id title memberIds unreadCount lastMessage { ${MESSAGE} } creatorId createdAt lastActivityAt`;

/**
 * Conversations and their messages are for members only: to anyone else,
 * an admin of the same organisation included, they read as missing.
 * Editing is the sender's; deleting the sender's or an admin member's;
 * removing others the creator's or an admin's; delivery status a service's.
 */
const outsider = user('outsider', ['admin']);
/** A member who is neither creator, sender nor admin nor service. */
const member = user('member-2', ['agent']);

/** The owner's conversation with member-2: a secret title and a secret message from the owner. */
async function ownersConversation(world: World) {
  const title = `secret-title-${randomUUID()}`;
  const body = `secret-body-${randomUUID()}`;
  const created = await world.ok(
    'mutation ($title: String, $memberIds: [ID!]!) { createConversation(title: $title, memberIds: $memberIds) { id } }',
    { title, memberIds: [member.sub] },
    world.owner,
  );
  const id = created.createConversation.id as string;
  const sent = await world.ok(
    'mutation ($id: ID!, $body: String!) { sendMessage(conversationId: $id, body: $body) { id } }',
    { id, body },
    world.owner,
  );
  return {
    id,
    messageId: sent.sendMessage.id as string,
    secrets: [title, body],
    /** The conversation and its messages, as the owner sees them. */
    snapshot: () =>
      world.ok(
        `query ($id: ID!) { conversation(id: $id) { ${CONVERSATION} } messages(conversationId: $id) { ${MESSAGE} } }`,
        { id },
        world.owner,
      ),
    /** member-2 writes to the owner: MessageAdded, and the owner's unread count moves. */
    trigger: async () => {
      await world.ok(
        'mutation ($id: ID!, $body: String!) { sendMessage(conversationId: $id, body: $body) { id } }',
        { id, body: `secret-reply-${randomUUID()}` },
        member,
      );
    },
  };
}

type Target = Awaited<ReturnType<typeof ownersConversation>>;

/** An attempt on the owner's conversation or message, denied to both attackers. */
const denied =
  (query: string, variables: (target: Target) => Record<string, unknown>) =>
  async (world: World): Promise<Attempt> => {
    const target = await ownersConversation(world);
    return { query, variables: variables(target), outcome: 'denied', ...target, witness: world.owner };
  };

/** An operation about the caller's own conversations: the attacker only ever gets their own. */
const own =
  (query: string, variables: Record<string, unknown> = {}) =>
  async (world: World): Promise<Attempt> => {
    const target = await ownersConversation(world);
    return {
      query,
      variables,
      outcome: 'own',
      ...target,
      secrets: [...target.secrets, target.id],
      witness: world.owner,
    };
  };

export const fixtures: Fixtures = {
  'Query.conversation': {
    sameOrgWithoutRole: outsider,
    arrange: denied(`query ($id: ID!) { conversation(id: $id) { ${CONVERSATION} } }`, ({ id }) => ({ id })),
  },
  'Query.conversations': {
    sameOrgWithoutRole: outsider,
    arrange: own(`{ conversations { ${CONVERSATION} } }`),
  },
  'Query.messages': {
    sameOrgWithoutRole: outsider,
    arrange: denied(`query ($id: ID!) { messages(conversationId: $id) { ${MESSAGE} } }`, ({ id }) => ({ id })),
  },
  'Mutation.createConversation': {
    sameOrgWithoutRole: outsider,
    async arrange(world, _kind: AttackerKind) {
      const target = await ownersConversation(world);
      // Anyone may start a conversation (with the owner, even): a new one, never the owner's.
      return {
        query: `mutation ($memberIds: [ID!]!) { createConversation(title: "planted", memberIds: $memberIds) { ${CONVERSATION} } }`,
        variables: { memberIds: [world.owner.sub, member.sub] },
        outcome: 'own',
        ...target,
      };
    },
  },
  'Mutation.addConversationMembers': {
    sameOrgWithoutRole: outsider,
    arrange: denied(
      `mutation ($id: ID!, $userIds: [ID!]!) { addConversationMembers(conversationId: $id, userIds: $userIds) { ${CONVERSATION} } }`,
      ({ id }) => ({ id, userIds: ['outsider', 'owner'] }),
    ),
  },
  'Mutation.removeConversationMember': {
    // A member, but neither the creator nor an admin, removing someone else.
    sameOrgWithoutRole: member,
    arrange: denied(
      `mutation ($id: ID!, $userId: ID!) { removeConversationMember(conversationId: $id, userId: $userId) { ${CONVERSATION} } }`,
      ({ id }) => ({ id, userId: 'owner' }),
    ),
  },
  'Mutation.sendMessage': {
    sameOrgWithoutRole: outsider,
    arrange: denied(
      `mutation ($id: ID!) { sendMessage(conversationId: $id, body: "planted") { ${MESSAGE} } }`,
      ({ id }) => ({ id }),
    ),
  },
  'Mutation.editMessage': {
    // A member, not the sender.
    sameOrgWithoutRole: member,
    arrange: denied(
      `mutation ($id: ID!) { editMessage(id: $id, body: "hijacked") { ${MESSAGE} } }`,
      ({ messageId }) => ({
        id: messageId,
      }),
    ),
  },
  'Mutation.deleteMessage': {
    // A member, neither the sender nor an admin.
    sameOrgWithoutRole: member,
    arrange: denied(`mutation ($id: ID!) { deleteMessage(id: $id) { ${MESSAGE} } }`, ({ messageId }) => ({
      id: messageId,
    })),
  },
  'Mutation.reactToMessage': {
    sameOrgWithoutRole: outsider,
    arrange: denied(
      `mutation ($id: ID!) { reactToMessage(messageId: $id, emoji: "👍") { ${MESSAGE} } }`,
      ({ messageId }) => ({ id: messageId }),
    ),
  },
  'Mutation.markConversationRead': {
    sameOrgWithoutRole: outsider,
    arrange: denied(
      `mutation ($id: ID!) { markConversationRead(conversationId: $id) { ${CONVERSATION} } }`,
      ({ id }) => ({ id }),
    ),
  },
  'Mutation.setTyping': {
    sameOrgWithoutRole: outsider,
    arrange: denied('mutation ($id: ID!) { setTyping(conversationId: $id, isTyping: true) }', ({ id }) => ({ id })),
  },
  'Mutation.updateMessageStatus': {
    // A member, without the service or admin role.
    sameOrgWithoutRole: member,
    arrange: denied(
      `mutation ($id: ID!) { updateMessageStatus(messageId: $id, status: READ) { ${MESSAGE} } }`,
      ({ messageId }) => ({ id: messageId }),
    ),
  },
  'Subscription.conversationEvents': {
    sameOrgWithoutRole: outsider,
    arrange: denied(
      `subscription ($id: ID!) {
        conversationEvents(conversationId: $id) {
          __typename
          ... on MessageAdded { message { ${MESSAGE} } }
          ... on TypingChanged { userId isTyping }
          ... on MembersChanged { memberIds }
        }
      }`,
      ({ id }) => ({ id }),
    ),
  },
  'Subscription.inboxEvents': {
    sameOrgWithoutRole: outsider,
    arrange: own(`subscription {
      inboxEvents {
        __typename
        ... on UnreadCountChanged { conversationId unreadCount }
        ... on ConversationUpdated { conversation { ${CONVERSATION} } }
      }
    }`),
  },
};
