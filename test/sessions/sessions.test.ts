import { describe, expect, it } from 'vitest';
import {
  BACKENDS,
  errorCode,
  gql,
  ok,
  SHARED_BACKENDS,
  startCluster,
  startTestServer,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
  type TestServer,
} from '../support/harness.js';

const SESSION_FIELDS = 'id name status qrCode phoneNumber displayName lastError ownerId createdAt updatedAt';
const CREATE = `mutation ($name: String!) { createSession(name: $name) { ${SESSION_FIELDS} } }`;
const REPORT = `mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { ${SESSION_FIELDS} } }`;
const EVENTS = `subscription ($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    ... on Event { occurredAt }
    ... on QrCodeUpdated { sessionId qrCode }
    ... on SessionStatusChanged { sessionId status phoneNumber displayName }
    ... on SessionConnectionError { sessionId error }
    ... on SessionDeleted { sessionId }
  }
}`;

async function tokens() {
  return {
    agent: await tokenFor(user('agent-1', ['agent'])),
    otherAgent: await tokenFor(user('agent-2', ['agent'])),
    admin: await tokenFor(user('admin-1', ['admin'])),
    service: await tokenFor(user('svc-1', ['service'])),
    foreignAdmin: await tokenFor(user('admin-x', ['admin'], 'org-b')),
    foreignService: await tokenFor(user('svc-x', ['service'], 'org-b')),
  };
}

async function createSession(server: TestServer, token: string, name = 'Support phone') {
  const data = await ok(server, CREATE, { name }, token);
  return data.createSession as { id: string; [key: string]: unknown };
}

describe.each(BACKENDS)('sessions on the %s backend', (backend) => {
  it('creates, reads and lists sessions for those who may see them', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const session = await createSession(server, t.agent, '  Support phone  ');
    expect(session).toMatchObject({
      name: 'Support phone',
      status: 'DISCONNECTED',
      qrCode: null,
      ownerId: 'agent-1',
    });
    expect(new Date(session.createdAt as string).toISOString()).toBe(session.createdAt);
    const second = await createSession(server, t.otherAgent, 'Sales phone');

    const own = await ok(server, '{ sessions { id } }', {}, t.agent);
    expect(own.sessions).toEqual([{ id: session.id }]);
    const all = await ok(server, '{ sessions { id } }', {}, t.admin);
    expect(all.sessions).toEqual([{ id: second.id }, { id: session.id }]);
    const byService = await ok(server, '{ sessions { id } }', {}, t.service);
    expect(byService.sessions).toHaveLength(2);
    const foreign = await ok(server, '{ sessions { id } }', {}, t.foreignAdmin);
    expect(foreign.sessions).toEqual([]);

    const read = await ok(server, `query ($id: ID!) { session(id: $id) { ${SESSION_FIELDS} } }`, session, t.admin);
    expect(read.session).toEqual(session);
  });

  it('reports another organisation\u2019s session, and a non-owner agent\u2019s view, exactly as a missing one', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const session = await createSession(server, t.agent);
    const missing = await gql(
      server,
      '{ session(id: "00000000-0000-0000-0000-000000000000") { id } }',
      {},
      { token: t.admin },
    );
    const query = `query ($id: ID!) { session(id: $id) { id } }`;
    for (const token of [t.foreignAdmin, t.foreignService, t.otherAgent]) {
      const result = await gql(server, query, { id: session.id }, { token });
      expect(errorCode(result)).toBe('NOT_FOUND');
      expect(result.data).toEqual({ session: null });
      expect(result.errors![0]!.message).toBe(
        missing.errors![0]!.message.replace('00000000-0000-0000-0000-000000000000', session.id),
      );
    }
    for (const mutation of ['connectSession', 'disconnectSession', 'deleteSession']) {
      const result = await gql(
        server,
        `mutation ($id: ID!) { ${mutation}(id: $id) ${mutation === 'deleteSession' ? '' : '{ id }'} }`,
        { id: session.id },
        { token: t.foreignAdmin },
      );
      expect(errorCode(result)).toBe('NOT_FOUND');
    }
    const report = await gql(
      server,
      REPORT,
      { input: { sessionId: session.id, status: 'CONNECTED' } },
      { token: t.foreignService },
    );
    expect(errorCode(report)).toBe('NOT_FOUND');
    const still = await ok(server, query, { id: session.id }, t.agent);
    expect(still.session).toEqual({ id: session.id });
  });

  it('enforces roles: reporting needs service or admin, creating needs admin or agent', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const session = await createSession(server, t.agent);
    const byAgent = await gql(
      server,
      REPORT,
      { input: { sessionId: session.id, status: 'CONNECTED' } },
      { token: t.agent },
    );
    expect(errorCode(byAgent)).toBe('FORBIDDEN');
    const byService = await gql(server, CREATE, { name: 'x' }, { token: t.service });
    expect(errorCode(byService)).toBe('FORBIDDEN');
    const byAdmin = await ok(server, REPORT, { input: { sessionId: session.id, status: 'CONNECTING' } }, t.admin);
    expect(byAdmin.reportSessionStatus.status).toBe('CONNECTING');
  });

  it('answers bad input with BAD_USER_INPUT', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    for (const name of ['', '   ', 'x'.repeat(101)]) {
      const result = await gql(server, CREATE, { name }, { token: t.agent });
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.extensions!.field).toBe('name');
    }
    const session = await createSession(server, t.agent);
    const longQr = await gql(
      server,
      REPORT,
      { input: { sessionId: session.id, status: 'QR_REQUIRED', qrCode: 'q'.repeat(5000) } },
      { token: t.service },
    );
    expect(errorCode(longQr)).toBe('BAD_USER_INPUT');
    const badEnum = await gql(
      server,
      REPORT,
      { input: { sessionId: session.id, status: 'SLEEPING' } },
      { token: t.service },
    );
    expect(errorCode(badEnum)).toBe('BAD_USER_INPUT');
    const badEnumInline = await gql(
      server,
      `mutation { reportSessionStatus(input: { sessionId: "${session.id}", status: SLEEPING }) { id } }`,
      {},
      { token: t.service },
    );
    expect(errorCode(badEnumInline)).toBe('BAD_USER_INPUT');
    const unknownId = await gql(
      server,
      'mutation { connectSession(id: "no-such-session") { id } }',
      {},
      { token: t.agent },
    );
    expect(errorCode(unknownId)).toBe('NOT_FOUND');
  });

  it('streams QR codes, status changes and errors to subscribers, and ends them when the session is deleted', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const session = await createSession(server, t.agent);
    const owner = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { sessionId: session.id });
    const admin = await subscribeWs(server, wsClient(server, t.admin), EVENTS, { sessionId: session.id });

    await ok(server, 'mutation ($id: ID!) { connectSession(id: $id) { status } }', session, t.agent);
    await ok(server, REPORT, { input: { sessionId: session.id, status: 'QR_REQUIRED', qrCode: 'qr-1' } }, t.service);
    await ok(server, REPORT, { input: { sessionId: session.id, status: 'QR_REQUIRED', qrCode: 'qr-2' } }, t.service);
    const connected = await ok(
      server,
      REPORT,
      {
        input: { sessionId: session.id, status: 'CONNECTED', phoneNumber: '+4915100000', displayName: 'Support' },
      },
      t.service,
    );
    expect(connected.reportSessionStatus).toMatchObject({
      status: 'CONNECTED',
      qrCode: null,
      phoneNumber: '+4915100000',
    });
    await ok(server, REPORT, { input: { sessionId: session.id, status: 'ERROR', error: 'phone offline' } }, t.service);

    const expected = [
      {
        __typename: 'SessionStatusChanged',
        sessionId: session.id,
        status: 'CONNECTING',
        phoneNumber: null,
        displayName: null,
      },
      {
        __typename: 'SessionStatusChanged',
        sessionId: session.id,
        status: 'QR_REQUIRED',
        phoneNumber: null,
        displayName: null,
      },
      { __typename: 'QrCodeUpdated', sessionId: session.id, qrCode: 'qr-1' },
      { __typename: 'QrCodeUpdated', sessionId: session.id, qrCode: 'qr-2' },
      {
        __typename: 'SessionStatusChanged',
        sessionId: session.id,
        status: 'CONNECTED',
        phoneNumber: '+4915100000',
        displayName: 'Support',
      },
      {
        __typename: 'SessionStatusChanged',
        sessionId: session.id,
        status: 'ERROR',
        phoneNumber: '+4915100000',
        displayName: 'Support',
      },
      { __typename: 'SessionConnectionError', sessionId: session.id, error: 'phone offline' },
    ];
    for (const subscription of [owner, admin]) {
      const events = await subscription.waitForEvents(expected.length);
      expect(events.map(({ occurredAt, ...rest }) => (expect(Date.parse(occurredAt)).not.toBeNaN(), rest))).toEqual(
        expected,
      );
    }

    const deletedAt = Date.now();
    await ok(server, 'mutation ($id: ID!) { deleteSession(id: $id) }', session, t.admin);
    await owner.completed;
    await admin.completed;
    expect(Date.now() - deletedAt).toBeLessThan(1000);
    expect(owner.events.at(-1)).toMatchObject({ __typename: 'SessionDeleted', sessionId: session.id });
    expect(owner.events).toHaveLength(expected.length + 1);

    const gone = await gql(server, 'query ($id: ID!) { session(id: $id) { id } }', session, { token: t.agent });
    expect(errorCode(gone)).toBe('NOT_FOUND');
  });

  it('refuses subscriptions to sessions the viewer may not see', async () => {
    const server = await startTestServer({ backend });
    const t = await tokens();
    const session = await createSession(server, t.agent);
    for (const token of [t.foreignAdmin, t.otherAgent]) {
      const subscription = await subscribeWs(server, wsClient(server, token), EVENTS, { sessionId: session.id });
      const error = (await subscription.waitForError()) as { extensions?: { code?: string } }[];
      expect(JSON.stringify(error)).toContain('NOT_FOUND');
    }
  });
});

describe.each(SHARED_BACKENDS)('sessions across instances (%s)', (backend) => {
  it('delivers events from reportSessionStatus on one instance to a subscriber on another', async () => {
    const [a, b] = await startCluster(2, {}, backend);
    const t = await tokens();
    const session = await createSession(a!, t.agent);
    const seen = await ok(b!, 'query ($id: ID!) { session(id: $id) { id name } }', session, t.agent);
    expect(seen.session.name).toBe('Support phone');

    const subscription = await subscribeWs(a!, wsClient(a!, t.agent), EVENTS, { sessionId: session.id });
    await ok(b!, REPORT, { input: { sessionId: session.id, status: 'QR_REQUIRED', qrCode: 'qr-from-b' } }, t.service);
    await ok(b!, REPORT, { input: { sessionId: session.id, status: 'CONNECTED', phoneNumber: '+1555' } }, t.service);
    const events = await subscription.waitForEvents(3);
    expect(events.map((event) => event.__typename)).toEqual([
      'SessionStatusChanged',
      'QrCodeUpdated',
      'SessionStatusChanged',
    ]);
    expect(events[1]).toMatchObject({ qrCode: 'qr-from-b' });
    expect(events[2]).toMatchObject({ status: 'CONNECTED', phoneNumber: '+1555' });

    await ok(b!, 'mutation ($id: ID!) { deleteSession(id: $id) }', session, t.agent);
    await subscription.completed;
    expect(subscription.events.at(-1)!.__typename).toBe('SessionDeleted');
  });
});
