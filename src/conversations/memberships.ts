import { keyPart } from '../lib/keys.js';
import type { ConversationWithMembers } from './model.js';

/** One version of a conversation's membership. */
export interface Membership {
  version: number;
  memberIds: string[];
  members: ReadonlySet<string>;
}

/**
 * Members (summed over conversations) one process keeps, past which the
 * least recently used conversations are forgotten: about 100 bytes each
 * (the id in an array and a set), so some 20 MB at most.
 */
export const MEMBERS_KEPT = 200_000;

/**
 * The members of conversations as this process last saw them, by
 * membership version (`ConversationRecord.membersVersion`): how inbox
 * subscribers decide, without a member list in each event, whether an
 * event addressed to a version is theirs. Filled only by reading the
 * conversation and its members from storage (`membershipOf`:
 * `ConversationStore.membership`, one version's record and list) when an event names a version not known here, never from
 * a member list an event carries (events come from Redis, untrusted: a
 * forged list would address later, real events). One per process, shared by its subscribers; bounded by the
 * members it holds (least recently used conversations forgotten, read
 * again when needed). Conversations are known per organisation
 * (`forOrg`): an event heard on one organisation's channel can never
 * be answered for by another's conversation.
 */
export function createMemberships(
  membershipOf: (orgId: string, conversationId: string) => Promise<ConversationWithMembers | undefined>,
  capacity = MEMBERS_KEPT,
) {
  const known = new Map<string, Membership>();
  /** Members held in `known`, all conversations together. */
  let held = 0;
  /** Reads under way, one per conversation, shared by callers that need a version it can answer. */
  const reads = new Map<string, Promise<Membership | undefined>>();

  const membership = (version: number, memberIds: string[]): Membership => ({
    version,
    memberIds,
    members: new Set(memberIds),
  });

  /** Keeps `entry` unless a newer version is known; resolves the one kept. */
  const keep = (id: string, entry: Membership) => {
    const current = known.get(id);
    if (current && current.version >= entry.version) return current;
    if (current) held -= current.memberIds.length;
    known.delete(id);
    known.set(id, entry);
    held += entry.memberIds.length;
    // The least recently used go first; the one just kept stays, whatever its size.
    for (const [oldest, forgotten] of known) {
      if (held <= capacity || oldest === id) break;
      known.delete(oldest);
      held -= forgotten.memberIds.length;
    }
    return entry;
  };

  const read = (orgId: string, conversationId: string, key: string) => {
    let pending = reads.get(key);
    if (!pending) {
      pending = membershipOf(orgId, conversationId).then((record) => {
        if (!record) return undefined;
        const found = membership(record.membersVersion ?? 0, record.memberIds);
        keep(key, found);
        return found;
      });
      const settled = pending.finally(() => reads.delete(key));
      settled.catch(() => {});
      reads.set(key, pending);
    }
    return pending;
  };

  return {
    /** What this process knows of one organisation's conversations. */
    forOrg(orgId: string) {
      const prefix = `${keyPart(orgId)}:`;
      return {
        /** The members at exactly `version`, when this process knows them. */
        at(id: string, version: number): Membership | undefined {
          const key = prefix + id;
          const entry = known.get(key);
          if (entry?.version !== version) return undefined;
          // Most recently used last: the first one is forgotten first.
          known.delete(key);
          known.set(key, entry);
          return entry;
        },

        /**
         * The conversation's members as stored now, at `version` or a later one
         * (then the event naming `version` is older than a membership change).
         * Undefined when the conversation is gone, or still has an older version
         * when read again (an event no writer made).
         */
        async current(id: string, version: number): Promise<Membership | undefined> {
          const shared = await read(orgId, id, prefix + id);
          if (!shared || shared.version >= version) return shared;
          // The shared read began before this version was written: read once more.
          const fresh = await read(orgId, id, prefix + id);
          return fresh && fresh.version >= version ? fresh : undefined;
        },
      };
    },
  };
}

/** Members of one organisation's conversations as this process knows them. */
export type Memberships = ReturnType<ReturnType<typeof createMemberships>['forOrg']>;
