import { isLoopback } from '../server/origin.js';
/**
 * The operations GraphiQL opens with in development: the README's
 * walk-through, runnable in one tab, one operation at a time (GraphiQL's
 * run button stops a running subscription, so the subscription runs last).
 */
export const GRAPHIQL_WALKTHROUGH = `# Development: Headers already hold the admin token of org-demo (admin-1).
# Run the operations in order: the run button (▶) offers each of them.
#  1. CreateSession, then put its id in Variables: {"id": "<the id>"}
#  2. ConnectSession: the simulated gateway starts pairing the session.
#  3. SessionEvents: a QR code within 20 s (and every 20 s), then
#     CONNECTED when the simulated phone scans it, 30 s after step 2.
# Running another operation stops the subscription: open a new tab (+) for it.

mutation CreateSession {
  createSession(name: "Support phone") {
    id
    status
  }
}

mutation ConnectSession($id: ID!) {
  connectSession(id: $id) {
    status
  }
}

subscription SessionEvents($id: ID!) {
  sessionEvents(sessionId: $id) {
    __typename
    ... on QrCodeUpdated {
      qrCode
    }
    ... on SessionStatusChanged {
      status
      phoneNumber
    }
  }
}
`;

/**
 * GraphiQL's opening state for a development server: the walk-through, and
 * the admin token in Headers for a browser on this machine only (the
 * server listens on every interface by default; a neighbour on the network
 * gets the walk-through without the token).
 */
export function developmentGraphiQL(adminToken: string) {
  const headers = JSON.stringify({ Authorization: `Bearer ${adminToken}` }, null, 2);
  return (req: unknown) => {
    const request = req as { socket?: { remoteAddress?: string }; headers?: { host?: string } } | undefined;
    const local = isLoopback((request?.socket?.remoteAddress ?? '').replace(/^::ffff:/, ''));
    // And asked for by a loopback name: a page on a name an attacker points at
    // 127.0.0.1 (DNS rebinding) sends its own name as Host, and no Origin on a GET.
    return {
      defaultQuery: GRAPHIQL_WALKTHROUGH,
      ...(local && isLoopbackHost(request?.headers?.host) ? { headers } : {}),
    };
  };
}

/** True for a Host header naming this machine's loopback (see `isLoopback`), any port. */
function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  try {
    return isLoopback(new URL(`http://${host}`).hostname);
  } catch {
    return false;
  }
}
