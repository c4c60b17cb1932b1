import type { SessionStatus } from '../generated/graphql.js';

/** A messaging-gateway session as stored. */
export interface SessionRecord {
  id: string;
  orgId: string;
  ownerId: string;
  name: string;
  status: SessionStatus;
  qrCode: string | null;
  phoneNumber: string | null;
  displayName: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

/** `sessions(limit:)`: the default and largest page. */
export const SESSION_PAGE = { default: 100, max: 500 } as const;
