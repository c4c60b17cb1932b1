import type { MessageStatus } from '../generated/graphql.js';

/** A conversation as stored. */
export interface ConversationRecord {
  id: string;
  orgId: string;
  title: string | null;
  /**
   * How many members it has. The members themselves are kept apart, in join
   * order (`ConversationStore.memberIds`, `isMember`), so that a send, which
   * reads and rewrites this record, costs the same whatever their number.
   * Absent only in records of the previous version (see `memberIds`).
   */
  memberCount?: number;
  /**
   * Only in records written by the previous version, which kept the members
   * here, in join order. Such a record is read as it is (its members are
   * this list); its first send or membership change moves the list out
   * (`ConversationStore.versioned`) and sets `memberCount` instead.
   */
  memberIds?: string[];
  /**
   * Counts the changes of the members (0 at creation; absent in records
   * written before it existed, read as 0 and set by the next change or
   * send). Events of a send name this version instead of listing the
   * members, and the send commits only while the record still has it.
   */
  membersVersion?: number;
  creatorId: string;
  createdAt: string;
  /** The newest message, by sequence; null before the first. */
  lastMessageId: string | null;
  /** Sequence of `lastMessageId` (0 before the first): unread counts of this version of the record count up to it. */
  lastMessageSeq: number;
  /** Last message time, or creation time; orders the viewer's conversation list. */
  lastActivityAt: string;
}

/** A conversation with its members, in join order: as the API shows it, and as membership changes return it. */
export type ConversationWithMembers = ConversationRecord & { memberIds: string[] };

/** One emoji and who reacted with it, in reaction order. */
export interface ReactionRecord {
  emoji: string;
  userIds: string[];
}

/** A message as stored. Deleted ones stay as tombstones. */
export interface MessageRecord {
  id: string;
  orgId: string;
  conversationId: string;
  /** Position in its conversation, from a per-conversation counter: orders history and read pointers. */
  seq: number;
  senderId: string;
  body: string;
  status: MessageStatus;
  reactions: ReactionRecord[];
  clientMessageId: string | null;
  createdAt: string;
  editedAt: string | null;
  deleted: boolean;
}

/** How far one member has read one conversation. */
export interface ReadPointerRecord {
  /** {@link readPointerId} of the conversation and member. */
  id: string;
  /** Everything with a sequence up to this one is read. */
  seq: number;
  /** The message at `seq`, null before anything was read. */
  messageId: string | null;
}

/** Id of a member's read pointer; conversation ids are UUIDs, so the first `/` separates. */
export const readPointerId = (conversationId: string, userId: string) => `${conversationId}/${userId}`;
