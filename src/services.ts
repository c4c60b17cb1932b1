import { createCampaignService } from './campaigns/service.js';
import type { EventBus } from './events/bus.js';
import type { Logger } from './logger.js';
import { createSessionService } from './sessions/service.js';
import type { Storage } from './storage/index.js';

/** What every domain service is built from. */
export interface ServiceDeps {
  storage: Storage;
  bus: EventBus;
  logger: Logger;
}

/** All domain services, one per folder under `src/`. */
export function createServices(deps: ServiceDeps) {
  const sessions = createSessionService(deps);
  return {
    sessions,
    campaigns: createCampaignService({ ...deps, sessions }),
  };
}

export type Services = ReturnType<typeof createServices>;
