import { badInput } from '../errors.js';
import type { MessageStatus } from '../generated/graphql.js';
import { requireText, requireUserId } from '../lib/validate.js';
import type { ReactionRecord } from './model.js';

/** The documented limits of conversations and messages; beyond them, BAD_USER_INPUT. */
export const LIMITS = {
  bodyChars: 4096,
  titleChars: 200,
  clientMessageIdChars: 128,
  distinctEmoji: 20,
  pageSize: 200,
  conversationsPage: 500,
} as const;

/** A message body: trimmed, 1 to 4096 Unicode code points (an emoji is one, not two). */
export function messageBody(body: string): string {
  const text = body.trim();
  if (text.length === 0) throw badInput('body must not be empty', 'body');
  if (codePoints(text) > LIMITS.bodyChars)
    throw badInput(`body must have at most ${LIMITS.bodyChars} characters`, 'body');
  return text;
}

/** An optional title: absent or null means none; otherwise 1 to 200 characters after trimming. */
export function conversationTitle(title: string | null | undefined): string | null {
  if (title === null || title === undefined) return null;
  return requireText('title', title, { max: LIMITS.titleChars });
}

/** The sender's idempotency key for a message: 1 to 128 characters, kept as given. */
export function clientMessageId(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value.length === 0 || value.length > LIMITS.clientMessageIdChars || value.trim() !== value) {
    throw badInput(
      `clientMessageId must have 1 to ${LIMITS.clientMessageIdChars} characters, without surrounding spaces`,
      'clientMessageId',
    );
  }
  return value;
}

/** A list of user ids: each valid, duplicates dropped (first kept), at least `min`, at most `max`. */
export function userIdList(
  field: string,
  ids: readonly string[],
  { min = 0, max }: { min?: number; max: number },
): string[] {
  if (ids.length < min) throw badInput(`${field} must name at least ${min} user`, field);
  if (ids.length > max) throw badInput(`${field} may name at most ${max} users`, field);
  return [...new Set(ids.map((id) => requireUserId(field, id)))];
}

/** A page size between 1 and `max`. */
export function pageLimit(field: string, limit: number | null | undefined, fallback: number, max: number): number {
  const value = limit ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw badInput(`${field} must be between 1 and ${max}`, field);
  }
  return value;
}

// One fully qualified emoji sequence (flags, keycaps, skin tones, ZWJ families), or a lone pictograph like ❤.
// Built with `new RegExp` because the `v` flag needs a newer compile target than ours.
const SINGLE_EMOJI = new RegExp('^(?:\\p{RGI_Emoji}|\\p{Extended_Pictographic})$', 'v');

/** A reaction: exactly one emoji. */
export function reactionEmoji(emoji: string): string {
  if (!SINGLE_EMOJI.test(emoji)) throw badInput('emoji must be a single emoji', 'emoji');
  return emoji;
}

/**
 * The reactions after the viewer toggles `emoji`: removed if they had
 * reacted so, added otherwise (a new emoji goes last). Throws
 * BAD_USER_INPUT rather than exceed {@link LIMITS.distinctEmoji}.
 */
export function toggleReaction(reactions: ReactionRecord[], emoji: string, userId: string): ReactionRecord[] {
  const existing = reactions.find((reaction) => reaction.emoji === emoji);
  if (existing?.userIds.includes(userId)) {
    return reactions
      .map((reaction) =>
        reaction.emoji === emoji ? { emoji, userIds: reaction.userIds.filter((id) => id !== userId) } : reaction,
      )
      .filter((reaction) => reaction.userIds.length > 0);
  }
  if (existing) {
    return reactions.map((reaction) =>
      reaction.emoji === emoji ? { emoji, userIds: [...reaction.userIds, userId] } : reaction,
    );
  }
  if (reactions.length >= LIMITS.distinctEmoji) {
    throw badInput(`a message may carry at most ${LIMITS.distinctEmoji} distinct emoji`, 'emoji');
  }
  return [...reactions, { emoji, userIds: [userId] }];
}

const STATUS_RANK: Record<MessageStatus, number> = { QUEUED: 0, SENT: 1, DELIVERED: 2, READ: 3, FAILED: 4 };

/**
 * Whether a delivery report moves a status forward: along QUEUED → SENT →
 * DELIVERED → READ (skipping is fine), or to FAILED from QUEUED or SENT.
 * READ and FAILED are final; a repeat is no move.
 */
export function advancesStatus(from: MessageStatus, to: MessageStatus): boolean {
  if (from === 'FAILED' || from === 'READ') return false;
  if (to === 'FAILED') return from === 'QUEUED' || from === 'SENT';
  return STATUS_RANK[to] > STATUS_RANK[from];
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
