import { hasRole, type Viewer } from '../auth/viewer.js';
import { forbidden } from '../errors.js';
import type { TaskRecord } from './model.js';

/** Any member of the task's organisation may see it and watch its events; everyone else reads it as missing. */
export function canSeeTask(viewer: Viewer, task: TaskRecord): boolean {
  return task.orgId === viewer.orgId;
}

/** Creating or changing tasks needs `admin` or `agent`; checked before anything is looked up, so it reveals nothing. */
export function assertCanChangeTasks(viewer: Viewer): void {
  if (!hasRole(viewer, 'admin', 'agent')) throw forbidden('Changing tasks needs the admin or agent role');
}
