import type { SessionStatus } from '../generated/graphql.js';

/** A message for one recipient, as a campaign worker hands it to the gateway. */
export interface OutgoingMessage {
  /**
   * Deterministic per recipient (see `campaignMessageId`): the same
   * recipient of the same campaign always has the same id.
   */
  id: string;
  orgId: string;
  sessionId: string;
  /** A normalised phone number or address. */
  to: string;
  body: string;
}

/** The gateway's answer to a send: it took the message, or refused it for good. */
export type SendResult = { status: 'accepted' } | { status: 'refused'; error: string };

/** Statuses a gateway reports for a message it accepted. */
export type ReceiptStatus = 'SENT' | 'DELIVERED' | 'READ' | 'FAILED';

/** A delivery receipt, as a real gateway's webhook would carry it. */
export interface Receipt {
  messageId: string;
  status: ReceiptStatus;
  /** Why it failed, for `FAILED`. */
  error: string | null;
  occurredAt: string;
}

/** What a gateway reports about a session it drives (answered with `reportSessionStatus`). */
export interface SessionReport {
  orgId: string;
  sessionId: string;
  status: SessionStatus;
  qrCode?: string;
  phoneNumber?: string;
  displayName?: string;
  error?: string;
}

/** Which session a command is about. */
export interface SessionTarget {
  orgId: string;
  sessionId: string;
}

/** Stops a listener. */
export type StopListening = () => void;

/**
 * What campaign workers send through, and what drives sessions: the seam
 * between this server and a messaging network. The simulated gateway
 * implements it; an adapter for a real provider would too.
 */
export interface Gateway {
  /**
   * Hands a message to the network. MUST be idempotent by `message.id`: a
   * second send with an id already accepted transmits nothing and resolves
   * the first outcome. Workers rely on this to retry a send whose outcome
   * they could not record (a crash, a timeout) without sending it twice; a
   * provider without idempotency keys needs the adapter to keep them.
   *
   * Rejects on a transient failure (timeout, outage): the outcome is then
   * unknown, and the message may be sent again with the same id.
   */
  send(message: OutgoingMessage): Promise<SendResult>;
  /**
   * Receipts for accepted messages: at least once each and in any order
   * (as webhooks arrive), whichever process sent the message. A listener
   * that rejects gets the receipt again later.
   */
  onReceipt(listener: (receipt: Receipt) => Promise<void>): StopListening;
  /** Starts logging a session in; its progress comes to {@link Gateway.onSessionReport}. */
  connectSession(target: SessionTarget): Promise<void>;
  /** Logs a session out (also for a deleted session). */
  disconnectSession(target: SessionTarget): Promise<void>;
  /** Session state changes. A listener that rejects stops the gateway driving that session. */
  onSessionReport(listener: (report: SessionReport) => Promise<void>): StopListening;
  /** Stops timers and pollers; sends already accepted keep their receipts (they are stored). */
  close(): Promise<void>;
}
