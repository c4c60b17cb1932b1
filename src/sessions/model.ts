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
