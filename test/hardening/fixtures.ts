import { ok, tokenFor, user, type TestServer } from '../support/harness.js';

/** The subscription every transport test holds open: events of one session. */
export const SESSION_EVENTS = `subscription ($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    ... on QrCodeUpdated { sessionId qrCode }
    ... on SessionStatusChanged { sessionId status }
  }
}`;

export const REPORT = `mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { id status qrCode } }`;

/** A session owned by `agent-1` of `org` (default org-a), and tokens of its owner and of a gateway service. */
export async function sessionFixture(server: TestServer, org = 'org-a') {
  const agent = await tokenFor(user('agent-1', ['agent'], org));
  const service = await tokenFor(user('svc-1', ['service'], org));
  const data = await ok(server, 'mutation { createSession(name: "Hardening") { id } }', {}, agent);
  const sessionId = data.createSession.id as string;
  /** Makes the session emit one QrCodeUpdated event (and a status change the first time). */
  const emit = (qrCode: string) => ok(server, REPORT, { input: { sessionId, status: 'QR_REQUIRED', qrCode } }, service);
  return { agent, service, sessionId, emit };
}

/** A `subscribe` message for the session's events. */
export const subscribeMessage = (id: string, sessionId: string) => ({
  id,
  type: 'subscribe',
  payload: { query: SESSION_EVENTS, variables: { sessionId } },
});
