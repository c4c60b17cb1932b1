import { describe, expect, it } from 'vitest';
import { BACKENDS, ok, settle, startTestServer, subscribeWs, wsClient } from '../support/harness.js';
import { eventually, tokens } from './support.js';

const EVENTS = `subscription ($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    ... on QrCodeUpdated { sessionId qrCode }
    ... on SessionStatusChanged { sessionId status phoneNumber displayName }
    ... on SessionDeleted { sessionId }
  }
}`;

describe.each(BACKENDS)('the simulated gateway drives sessions (embedded worker, %s backend)', (backend) => {
  it('connectSession: a QR code at once and every interval, then CONNECTED after the scan delay', async () => {
    const server = await startTestServer({
      backend,
      env: { EMBEDDED_WORKER: 'on', GATEWAY_QR_INTERVAL_MS: '200', GATEWAY_SCAN_DELAY_MS: '700' },
    });
    const t = await tokens();
    const created = await ok(server, 'mutation { createSession(name: "Phone") { id } }', {}, t.agent);
    const sessionId = created.createSession.id as string;
    const watcher = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { sessionId });
    const connectedAt = Date.now();
    await ok(server, 'mutation ($id: ID!) { connectSession(id: $id) { status } }', { id: sessionId }, t.agent);

    const events = await eventually(async () => {
      const index = watcher.events.findIndex((e) => e.status === 'CONNECTED');
      return index >= 0 && watcher.events.slice(0, index + 1);
    });
    expect(Date.now() - connectedAt).toBeGreaterThanOrEqual(650);
    expect(events.slice(0, 3)).toEqual([
      { __typename: 'SessionStatusChanged', sessionId, status: 'CONNECTING', phoneNumber: null, displayName: null },
      { __typename: 'SessionStatusChanged', sessionId, status: 'QR_REQUIRED', phoneNumber: null, displayName: null },
      { __typename: 'QrCodeUpdated', sessionId, qrCode: expect.stringMatching(/^2@/) },
    ]);
    const qrCodes = events.filter((e) => e.__typename === 'QrCodeUpdated').map((e) => e.qrCode);
    expect(qrCodes.length).toBeGreaterThanOrEqual(3);
    expect(new Set(qrCodes).size).toBe(qrCodes.length);
    expect(events.at(-1)).toMatchObject({ status: 'CONNECTED', displayName: 'Simulated phone' });
    await settle(450);
    expect(watcher.events).toHaveLength(events.length);
  });

  it('disconnectSession and deleteSession stop the QR codes', async () => {
    const server = await startTestServer({
      backend,
      env: { EMBEDDED_WORKER: 'on', GATEWAY_QR_INTERVAL_MS: '100', GATEWAY_SCAN_DELAY_MS: '60000' },
    });
    const t = await tokens();
    for (const stop of ['disconnectSession(id: $id) { status }', 'deleteSession(id: $id)']) {
      const created = await ok(server, 'mutation { createSession(name: "Phone") { id } }', {}, t.agent);
      const sessionId = created.createSession.id as string;
      const watcher = await subscribeWs(server, wsClient(server, t.agent), EVENTS, { sessionId });
      await ok(server, 'mutation ($id: ID!) { connectSession(id: $id) { status } }', { id: sessionId }, t.agent);
      await watcher.waitForEvents(4); // CONNECTING, QR_REQUIRED, two QR codes
      await ok(server, `mutation ($id: ID!) { ${stop} }`, { id: sessionId }, t.agent);
      const stoppedAt = watcher.events.length;
      await settle(400);
      // At most one report already in flight, then nothing.
      const after = watcher.events.slice(stoppedAt + 1);
      expect(after.filter((e) => e.__typename === 'QrCodeUpdated').length).toBeLessThanOrEqual(1);
      if (stop.startsWith('disconnect')) {
        const session = await ok(
          server,
          'query ($id: ID!) { session(id: $id) { status } }',
          { id: sessionId },
          t.agent,
        );
        expect(session.session.status).toBe('DISCONNECTED');
        const count = watcher.events.length;
        await settle(250);
        expect(watcher.events).toHaveLength(count);
      } else {
        await watcher.completed;
      }
    }
  });
});
