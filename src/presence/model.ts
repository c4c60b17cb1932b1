import { keyPart } from '../lib/keys.js';

/** One user's presence as stored: how many connections each instance holds for them. */
export interface PresenceRecord {
  /** {@link presenceId} of the organisation and user. */
  id: string;
  orgId: string;
  userId: string;
  /** Open WebSocket connections per instance id; instances with none are absent. */
  connections: Record<string, number>;
  /** When the user last came online or went offline; null before the first time. */
  lastSeenAt: string | null;
  /**
   * How many times the user went online or offline. Carried by each event,
   * so a subscriber can drop a transition that reaches it after a later one
   * (two instances publish independently). Absent in records written before it.
   */
  flips?: number;
}

/** Organisation and user ids come from tokens and may hold any character: encoded, they cannot collide. */
export const presenceId = (orgId: string, userId: string) => `${keyPart(orgId)}/${keyPart(userId)}`;

/** Online while any instance holds a connection of theirs. */
export const isOnline = (record: Pick<PresenceRecord, 'connections'>) =>
  Object.values(record.connections).some((count) => count > 0);
