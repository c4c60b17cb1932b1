import type { Viewer } from './viewer.js';

/**
 * The identity of backend work done for an organisation (campaign workers,
 * the simulated gateway): role `service` in that organisation, so it passes
 * the same authorization as a service token would. Never made from a
 * request: it exists only inside backend processes.
 */
export function systemViewer(orgId: string, id = 'system'): Viewer {
  return { id, orgId, roles: ['service'], name: id, expiresAt: Number.POSITIVE_INFINITY };
}
