import type { Viewer } from '../auth/viewer.js';
import { notFound } from '../errors.js';
import type { EventBus } from '../events/bus.js';
import { subscribe } from '../events/subscribe.js';
import { topics } from '../events/topics.js';
import type { SessionStatus, SessionStatusReport } from '../generated/graphql.js';
import { changeEvent } from '../events/change-event.js';
import { createOnce, idempotencyKey, idempotencyScope } from '../lib/idempotency.js';
import { now } from '../lib/ids.js';
import { keyPart } from '../lib/keys.js';
import { optionalText, requireId, requireIntInRange, requireText } from '../lib/validate.js';
import type { ChangeEvent, Storage } from '../storage/index.js';
import { pageBefore } from '../storage/paging.js';
import { assertCanCreateSession, assertCanReportSessionStatus, canAccessSession } from './access.js';
import type { GatewayCommand, SessionEvent } from './events.js';
import { SESSION_PAGE, type SessionRecord } from './model.js';
import type { AccessSignal } from '../lib/access-signal.js';

/** Sessions: state, authorization and events, whatever the transport. */
export type SessionService = ReturnType<typeof createSessionService>;

const byOrg = (orgId: string) => `org:${keyPart(orgId)}`;

/** Creates the sessions domain over a storage backend and an event bus. */
export function createSessionService({ storage, bus }: { storage: Storage; bus: EventBus }) {
  /** An organisation's sessions (in its own slot on a Redis Cluster). */
  const sessions = (orgId: string) => storage.forOrg(orgId).collection<SessionRecord>('sessions');

  /** A session's events, to record with the change that produces them. */
  const recorded = (session: SessionRecord, events: SessionEvent[]) =>
    events.map((event) => changeEvent(topics.session(session.orgId, session.id), event));
  /** A command for the gateways, recorded with the change that asks for it. */
  const command = (session: SessionRecord, action: GatewayCommand['action']) =>
    changeEvent(topics.gatewayCommands(), { action, sessionId: session.id, orgId: session.orgId, occurredAt: now() });
  const statusChanged = (session: SessionRecord): SessionEvent => ({
    __typename: 'SessionStatusChanged',
    sessionId: session.id,
    status: session.status,
    phoneNumber: session.phoneNumber,
    displayName: session.displayName,
    occurredAt: session.updatedAt,
  });

  /** What a gateway's report changed, as events. */
  const reportEvents = (
    before: SessionRecord,
    after: SessionRecord,
    qrCode: string | undefined,
    error: string | undefined,
  ): SessionEvent[] => {
    const events: SessionEvent[] = [];
    if (
      before.status !== after.status ||
      before.phoneNumber !== after.phoneNumber ||
      before.displayName !== after.displayName
    ) {
      events.push(statusChanged(after));
    }
    if (qrCode && after.qrCode === qrCode && before.qrCode !== qrCode) {
      events.push({ __typename: 'QrCodeUpdated', sessionId: after.id, qrCode, occurredAt: after.updatedAt });
    }
    // A connected session has no error to report: CONNECTED clears lastError.
    if (error && after.status !== 'CONNECTED') {
      events.push({ __typename: 'SessionConnectionError', sessionId: after.id, error, occurredAt: after.updatedAt });
    }
    return events;
  };

  /** The session if the viewer may see it; NOT_FOUND otherwise (missing and foreign read the same). */
  const getVisible = async (viewer: Viewer, id: string): Promise<SessionRecord> => {
    requireId('id', id);
    const session = await sessions(viewer.orgId).get(id);
    if (!session || !canAccessSession(viewer, session)) throw notFound('Session', id);
    return session;
  };

  /**
   * Applies a change to a visible session, recording the events `events`
   * makes of it; resolves the stored result and whether it changed.
   */
  const change = async (
    viewer: Viewer,
    id: string,
    apply: (session: SessionRecord) => SessionRecord | undefined,
    events: (after: SessionRecord, before: SessionRecord) => ChangeEvent[],
  ) => {
    await getVisible(viewer, id);
    const result = await sessions(viewer.orgId).update(
      id,
      (current) => {
        const next = apply(current);
        return next && { ...next, updatedAt: now() };
      },
      undefined,
      events,
    );
    if (!result) throw notFound('Session', id);
    return result;
  };

  return {
    get: getVisible,

    /**
     * The sessions the viewer may see, newest first, a page at a time. An
     * agent sees only their own: the organisation's index is read in pages
     * until one of theirs fills it (an organisation has few sessions: one
     * per phone account).
     */
    async list(
      viewer: Viewer,
      { limit, before }: { limit?: number | null; before?: string | null } = {},
    ): Promise<SessionRecord[]> {
      const pageSize = requireIntInRange('limit', limit ?? SESSION_PAGE.default, { min: 1, max: SESSION_PAGE.max });
      let cursor = before == null ? undefined : (await getVisible(viewer, requireId('before', before))).id;
      const visible: SessionRecord[] = [];
      for (;;) {
        const page = await pageBefore(sessions(viewer.orgId), byOrg(viewer.orgId), { limit: pageSize, before: cursor });
        if (!page) throw notFound('Session', cursor ?? '');
        visible.push(...page.filter((session) => canAccessSession(viewer, session)));
        if (page.length < pageSize || visible.length >= pageSize) return visible.slice(0, pageSize);
        cursor = page.at(-1)!.id;
      }
    },

    /** Creates a session; with an idempotency key, a repeat returns the first call's session. */
    async create(viewer: Viewer, name: string, key?: string | null): Promise<SessionRecord> {
      assertCanCreateSession(viewer);
      const chosenName = requireText('name', name, { max: 100 });
      return createOnce(storage.forOrg(viewer.orgId), {
        claim: idempotencyScope(viewer, 'createSession', idempotencyKey(key)),
        args: { name: chosenName },
        find: async (id) => {
          const found = await sessions(viewer.orgId).get(id);
          return found && canAccessSession(viewer, found) ? found : undefined;
        },
        create: async (id) => {
          const timestamp = now();
          const session: SessionRecord = {
            id,
            orgId: viewer.orgId,
            ownerId: viewer.id,
            name: chosenName,
            status: 'DISCONNECTED',
            qrCode: null,
            phoneNumber: null,
            displayName: null,
            lastError: null,
            createdAt: timestamp,
            updatedAt: timestamp,
          };
          const inserted = await sessions(viewer.orgId).insert(session, [
            { index: byOrg(viewer.orgId), score: Date.parse(timestamp) },
          ]);
          return inserted ? session : undefined;
        },
      });
    },

    async connect(viewer: Viewer, id: string): Promise<SessionRecord> {
      const { after } = await change(
        viewer,
        id,
        (session) =>
          session.status === 'CONNECTED' || session.status === 'CONNECTING'
            ? undefined
            : { ...session, status: 'CONNECTING', qrCode: null, lastError: null },
        (next) => [...recorded(next, [statusChanged(next)]), command(next, 'connect')],
      );
      return after;
    },

    async disconnect(viewer: Viewer, id: string): Promise<SessionRecord> {
      const { after } = await change(
        viewer,
        id,
        (session) =>
          session.status === 'DISCONNECTED' ? undefined : { ...session, status: 'DISCONNECTED', qrCode: null },
        (next) => [...recorded(next, [statusChanged(next)]), command(next, 'disconnect')],
      );
      return after;
    },

    async remove(viewer: Viewer, id: string): Promise<boolean> {
      const session = await getVisible(viewer, id);
      const occurredAt = now();
      const removed = await sessions(viewer.orgId).remove(id, [byOrg(session.orgId)], (gone) => [
        ...recorded(gone, [{ __typename: 'SessionDeleted', sessionId: id, occurredAt }]),
        ...(gone.status !== 'DISCONNECTED' ? [command(gone, 'disconnect')] : []),
      ]);
      if (!removed) throw notFound('Session', id);
      return true;
    },

    /**
     * A gateway's report. `onlyFrom` (for gateways inside this codebase)
     * applies it only while the session is in one of those statuses, in the
     * same atomic update: a login still in flight when the session was
     * disconnected cannot bring it back.
     */
    async reportStatus(
      viewer: Viewer,
      report: SessionStatusReport,
      { onlyFrom }: { onlyFrom?: readonly SessionStatus[] } = {},
    ): Promise<SessionRecord> {
      assertCanReportSessionStatus(viewer);
      const qrCode = optionalText('qrCode', report.qrCode, { max: 4096 });
      const phoneNumber = optionalText('phoneNumber', report.phoneNumber, { max: 32 });
      const displayName = optionalText('displayName', report.displayName, { max: 200 });
      const error = optionalText('error', report.error, { max: 1000 });
      const { after } = await change(
        viewer,
        report.sessionId,
        (session) => {
          if (onlyFrom && !onlyFrom.includes(session.status)) return undefined;
          const next = {
            ...session,
            status: report.status,
            qrCode: report.status === 'QR_REQUIRED' ? (qrCode ?? session.qrCode) : null,
            phoneNumber: phoneNumber ?? session.phoneNumber,
            displayName: displayName ?? session.displayName,
            lastError: report.status === 'CONNECTED' ? null : (error ?? session.lastError),
          };
          const same = (Object.keys(next) as (keyof SessionRecord)[]).every((key) => next[key] === session[key]);
          return same ? undefined : next;
        },
        (next, before) => recorded(next, reportEvents(before, next, qrCode, error)),
      );
      return after;
    },

    /** Live events of a session the viewer may see; ends after `SessionDeleted` or when `signal` aborts. */
    async subscribe(viewer: Viewer, sessionId: string, signal?: AccessSignal) {
      const session = await getVisible(viewer, sessionId);
      const events = await subscribe(bus, topics.session(session.orgId, session.id), {
        signal,
        isLast: (event) => event.__typename === 'SessionDeleted',
      });
      // Deleted while the subscription was being made: its SessionDeleted may have gone unheard.
      if (!(await sessions(viewer.orgId).get(session.id))) {
        await events.return();
        throw notFound('Session', sessionId);
      }
      return events;
    },
  };
}
