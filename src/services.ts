import type { AdminService } from './admin/service.js';
import type { StatusService } from './status/service.js';
import { createCampaignService } from './campaigns/service.js';
import type { ConversationConfig, PresenceConfig, RetentionConfig } from './config.js';
import { createConversationService } from './conversations/service.js';
import type { EventBus } from './events/bus.js';
import type { Logger } from './logger.js';
import { createNotificationService } from './notifications/service.js';
import { createPresenceService } from './presence/service.js';
import { createSessionService } from './sessions/service.js';
import type { Storage } from './storage/index.js';
import { createTaskService } from './tasks/service.js';

/** What every domain service is built from. */
export interface ServiceDeps {
  storage: Storage;
  bus: EventBus;
  logger: Logger;
  /** Whether this process runs background work (timers, sweepers, workers); false in a publisher. */
  background: boolean;
  presence: PresenceConfig;
  conversations: ConversationConfig;
  /** How long each kind of data is kept (see {@link RetentionConfig}). */
  retention: RetentionConfig;
}

/** All domain services, one per folder under `src/`. */
export function createServices(deps: ServiceDeps) {
  const sessions = createSessionService(deps);
  return {
    sessions,
    campaigns: createCampaignService({ ...deps, sessions }),
    tasks: createTaskService(deps),
    notifications: createNotificationService(deps),
    conversations: createConversationService({ ...deps, config: deps.conversations }),
    presence: createPresenceService(deps),
  };
}

export type Services = ReturnType<typeof createServices>;

/**
 * What a server's resolvers reach: the domain services, and the admin API
 * and status feed, which a server adds (they list and close that server's
 * own connections).
 */
export type ServerServices = Services & { admin: AdminService; status: StatusService };

/** Stops every service's timers and waits for its pending writes; before the backends close. */
export async function closeServices(services: Services): Promise<void> {
  await Promise.all(Object.values(services).map((service) => ('close' in service ? service.close() : undefined)));
}
