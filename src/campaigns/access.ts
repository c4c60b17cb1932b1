import { hasRole, type Viewer } from '../auth/viewer.js';
import { forbidden } from '../errors.js';
import type { CampaignRecord } from './model.js';

/** Every member of a campaign's organisation may see it; nobody else (they read it as missing). */
export function canSeeCampaign(viewer: Viewer, campaign: CampaignRecord): boolean {
  return campaign.orgId === viewer.orgId;
}

/** Creating, starting, pausing, resuming and cancelling need `admin` or `agent`. */
export function assertCanChangeCampaigns(viewer: Viewer): void {
  if (!hasRole(viewer, 'admin', 'agent')) throw forbidden('Changing campaigns needs the admin or agent role');
}
