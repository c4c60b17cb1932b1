import type { SubscribePayload } from 'graphql-ws';
import { isRecord, type Frame } from './socket.js';

/**
 * `extensions.code` of the error that ends a resumed subscription whose
 * missed events the server found gone after all (after its ack said
 * `recovered: true`): the contract's `RESUME_FAILED`.
 */
const RESUME_FAILED = 'RESUME_FAILED';

/** A subscription whose missed events the server could not replay: the app should refetch what it shows. */
export interface UnrecoveredSubscription {
  /** The graphql-ws subscription id. */
  id: string;
  /** The operation as the client subscribed it (query, variables, operation name). */
  payload: SubscribePayload;
}

/** What the server is asked to replay: `connectionParams.resume` of the contract. */
export interface ResumeParams {
  lastSeen: Record<string, string>;
}

/** The resume state of one graphql-ws client, fed by its frames both ways. */
export interface ResumeTracker {
  /** `connectionParams.resume` for the connection being made, or undefined when there is nothing to resume. */
  resumeParams(): ResumeParams | undefined;
  /** A frame the client sent (`subscribe`, `complete`). */
  sent(frame: Frame): void;
  /** A frame the client received (`next`, `error`, `complete`). */
  received(frame: Frame): void;
  /** The `connection_ack` payload of the connection `resumeParams` was asked for. */
  acknowledged(payload: unknown): void;
  /** The socket closed; `wasAcknowledged` when it had got its `connection_ack`. */
  closed(wasAcknowledged: boolean): void;
}

/**
 * Tracks each live subscription's last `extensions.offset` so that a
 * reconnect asks for what it missed, and tells `onResumeFailed` which
 * subscriptions the server answered `recovered: false` (or not at all) for,
 * and which it ended with a `RESUME_FAILED` error (the events were gone by
 * the time it replayed them).
 * A subscription is forgotten when it ends: the client completes it, the
 * server completes or fails it, or the client gave it up (a connection was
 * acknowledged and closed without it being subscribed there).
 */
export function createResumeTracker(
  onResumeFailed: (lost: UnrecoveredSubscription[]) => void = () => {},
): ResumeTracker {
  const live = new Map<string, { payload: SubscribePayload; offset?: string }>();
  let asked: string[] = [];
  let subscribedHere = new Set<string>();

  return {
    resumeParams() {
      const lastSeen: Record<string, string> = {};
      for (const [id, { offset }] of live) if (offset !== undefined) lastSeen[id] = offset;
      asked = Object.keys(lastSeen);
      return asked.length > 0 ? { lastSeen } : undefined;
    },
    sent({ type, id, payload }) {
      if (id === undefined) return;
      if (type === 'subscribe' && isRecord(payload)) {
        live.set(id, { payload: payload as unknown as SubscribePayload, offset: live.get(id)?.offset });
        subscribedHere.add(id);
      } else if (type === 'complete') live.delete(id);
    },
    received({ type, id, payload }) {
      if (id === undefined) return;
      const entry = live.get(id);
      if (entry && (type === 'error' || type === 'next') && isResumeFailed(payload)) {
        // Ended by the server, its errors in an `error` frame or (a subscription that could not start) a `next`.
        live.delete(id);
        onResumeFailed([{ id, payload: entry.payload }]);
      } else if (type === 'error' || type === 'complete') live.delete(id);
      else if (type === 'next') {
        const offset = isRecord(payload) && isRecord(payload.extensions) ? payload.extensions.offset : undefined;
        if (entry && typeof offset === 'string') entry.offset = offset;
      }
    },
    acknowledged(payload) {
      const resume = isRecord(payload) ? payload.resume : undefined;
      const recovered = isRecord(resume) && isRecord(resume.recovered) ? resume.recovered : {};
      const lost = asked.flatMap((id) => {
        const entry = live.get(id);
        return entry && recovered[id] !== true ? [{ id, payload: entry.payload }] : [];
      });
      asked = [];
      if (lost.length > 0) onResumeFailed(lost);
    },
    closed(wasAcknowledged) {
      if (wasAcknowledged) for (const id of live.keys()) if (!subscribedHere.has(id)) live.delete(id);
      subscribedHere = new Set();
    },
  };
}

/** Whether a frame's payload (an `error` frame's list of GraphQL errors, or a result's `errors`) says the replay could not be made. */
function isResumeFailed(payload: unknown): boolean {
  const errors = isRecord(payload) ? payload.errors : payload;
  return (
    Array.isArray(errors) &&
    errors.some((error) => isRecord(error) && isRecord(error.extensions) && error.extensions.code === RESUME_FAILED)
  );
}
