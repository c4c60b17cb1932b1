import { systemViewer } from '../auth/system.js';
import type { CommandQueue } from '../events/commands.js';
import { topics } from '../events/topics.js';
import type { Gateway } from '../gateway/gateway.js';
import type { SessionStatus } from '../generated/graphql.js';
import type { Logger } from '../logger.js';
import type { SessionService } from '../sessions/service.js';

/** Statuses of a login in progress: the only ones a simulated login report may change. */
const LOGGING_IN: readonly SessionStatus[] = ['CONNECTING', 'QR_REQUIRED'];

/** The identity under which the gateway reports session state. */
export const GATEWAY_PRINCIPAL = 'simulated-gateway';

/**
 * Connects the gateway to the sessions domain: commands queued by
 * `connectSession`/`disconnectSession`/`deleteSession` (on the gateways'
 * command channel, for every organisation; they wait for a worker when
 * none runs) reach the gateway, and what the
 * gateway reports goes through `reportSessionStatus`'s own code path, as a
 * `service` of the session's organisation. A report for a session that was
 * deleted or disconnected meanwhile is dropped (atomically: `onlyFrom`),
 * and stops the gateway driving it.
 *
 * A command may come twice (its first consumer died before acknowledging
 * it), and a `connect` may come after the session moved on: both are
 * harmless. The gateway drives a session once (a lease), stopping is
 * idempotent, and a login report for a session no longer logging in is
 * refused by `onlyFrom`, which ends the drive.
 */
export async function bridgeGatewaySessions({
  commands,
  gateway,
  sessions,
  logger,
}: {
  commands: CommandQueue;
  gateway: Gateway;
  sessions: SessionService;
  logger: Logger;
}): Promise<() => Promise<void>> {
  const stopReports = gateway.onSessionReport(async ({ orgId, sessionId, ...report }) => {
    const principal = systemViewer(orgId, GATEWAY_PRINCIPAL);
    const session = await sessions.reportStatus(principal, { sessionId, ...report }, { onlyFrom: LOGGING_IN });
    if (session.status !== report.status) throw new Error(`the session is ${session.status}: login abandoned`);
  });
  const stopCommands = await commands.consume(topics.gatewayCommands(), async (command) => {
    const target = { orgId: command.orgId, sessionId: command.sessionId };
    try {
      await (command.action === 'connect' ? gateway.connectSession(target) : gateway.disconnectSession(target));
    } catch (error) {
      logger.warn({ ...target, err: String(error) }, 'gateway command failed');
    }
  });
  return async () => {
    await stopCommands();
    stopReports();
  };
}
