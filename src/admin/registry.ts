import type { Viewer } from '../auth/viewer.js';
import { newId } from '../lib/ids.js';

/** How a connection reaches this instance. */
export type TransportKind = 'websocket' | 'sse';

/** One open connection as the admin API shows it (and as instances send it to each other). */
export interface ConnectionSummary {
  id: string;
  userId: string;
  transport: TransportKind;
  instance: string;
  /** ISO 8601. */
  openedAt: string;
  subscriptions: number;
}

/** The close reason of a connection whose token was revoked. */
export const REVOKED = 'Forbidden: token revoked';

/** What a transport keeps of a connection it registered. */
export interface Registration {
  /** Adds (or, with a negative delta, removes) live subscriptions of the connection. */
  subscriptionsChanged(delta: number): void;
  /** The connection closed: forget it. Idempotent. */
  remove(): void;
}

/** Closes one connection for the admin API: a WebSocket with 4403, an SSE stream ends. */
export type CloseConnection = (reason: string) => void;

/**
 * One open connection: what the admin API lists and closes, and the
 * transport's {@link Registration} of it. One object per connection, its
 * methods on the prototype (no closures per connection).
 */
class Entry implements Registration {
  readonly orgId: string;

  constructor(
    readonly summary: ConnectionSummary,
    readonly viewer: Viewer,
    readonly close: CloseConnection,
    /** The registry's connections, by organisation then id. */
    private readonly byOrg: Map<string, Map<string, Entry>>,
  ) {
    this.orgId = viewer.orgId;
  }

  subscriptionsChanged(delta: number): void {
    this.summary.subscriptions = Math.max(0, this.summary.subscriptions + delta);
  }

  remove(): void {
    const current = this.byOrg.get(this.orgId);
    if (!current?.delete(this.summary.id)) return;
    if (current.size === 0) this.byOrg.delete(this.orgId);
  }
}

/** This instance's open connections (see {@link createConnectionRegistry}). */
export type ConnectionRegistry = ReturnType<typeof createConnectionRegistry>;

/**
 * This instance's open connections, registered by the transports (a
 * WebSocket once its `connection_init` is accepted, an SSE stream for its
 * request's lifetime) with a way to close each one. It is what the admin
 * API lists and closes; other instances reach theirs over the admin channel
 * (./service.ts). Kept in process only: nothing is written per connection.
 */
export function createConnectionRegistry(
  instance: string,
  {
    refuses = () => false,
  }: {
    /**
     * Whether a viewer's token is refused now (revoked): checked again as a
     * connection registers, so one whose token was revoked while it was
     * being set up (after its token was checked, before it was listed) is
     * closed at once rather than missed by the revocation's sweep.
     */
    refuses?: (viewer: Viewer) => boolean;
  } = {},
) {
  /** By organisation, then by connection id. */
  const byOrg = new Map<string, Map<string, Entry>>();

  const matching = (orgId: string, match: (entry: Entry) => boolean): Entry[] =>
    [...(byOrg.get(orgId)?.values() ?? [])].filter(match);

  return {
    /** This instance's id, as connections name it. */
    instance,

    /** Registers an open connection of `viewer`; `close` is how the admin API ends it. */
    open(viewer: Viewer, transport: TransportKind, close: CloseConnection): Registration {
      const id = newId();
      const summary: ConnectionSummary = {
        id,
        userId: viewer.id,
        transport,
        instance,
        openedAt: new Date().toISOString(),
        subscriptions: 0,
      };
      const entry = new Entry(summary, viewer, close, byOrg);
      let org = byOrg.get(viewer.orgId);
      if (!org) byOrg.set(viewer.orgId, (org = new Map()));
      org.set(id, entry);
      if (refuses(viewer))
        queueMicrotask(() => {
          entry.remove();
          close(REVOKED);
        });
      return entry;
    },

    /** Open connections of an organisation (of one user when given), oldest first. */
    list(orgId: string, userId?: string): ConnectionSummary[] {
      return matching(orgId, (entry) => userId === undefined || entry.viewer.id === userId)
        .map((entry) => ({ ...entry.summary }))
        .sort((a, b) => a.openedAt.localeCompare(b.openedAt));
    },

    /**
     * Closes a user's connections of an organisation, those whose viewer
     * `match`es (all by default); returns how many were open.
     */
    close(orgId: string, userId: string, reason: string, match: (viewer: Viewer) => boolean = () => true): number {
      const found = matching(orgId, (entry) => entry.viewer.id === userId && match(entry.viewer));
      // Unlisted at once: a closing connection is no longer open, whenever its transport finishes.
      for (const entry of found) {
        entry.remove();
        entry.close(reason);
      }
      return found.length;
    },
  };
}
