import type { Viewer } from '../auth/viewer.js';
import type { EventHistory } from '../events/history.js';
import { parseOffset, type Offset } from '../events/offsets.js';
import { MAX_OPERATION_ID_BYTES } from './graphql-ws-adapter.js';

/** What a WebSocket `connection_init` asked to resume, and what its `connection_ack` answers. */
export interface ResumeAnswer {
  /** The `connection_ack` payload: `{ resume: { recovered: { [id]: boolean } } }`. */
  ack: { resume: { recovered: Record<string, boolean> } };
  /** The offsets to replay from, per subscription id, for those recovered. */
  points: Map<string, Offset>;
}

/**
 * Answers `connectionParams.resume = { lastSeen: { [id]: offset } }` (the
 * client's, untrusted): every id gets `recovered` true or false, false for
 * whatever is not a well-formed id and offset, for ids past `maxIds` (the
 * operations a connection may run), and whenever the history of the
 * viewer's organisation no longer holds everything after the offset (past
 * the window, another epoch, resume off). Undefined when the client asked
 * nothing (no `resume`): the ack then carries no payload.
 */
export async function answerResume(
  params: Record<string, unknown>,
  viewer: Viewer,
  history: EventHistory | undefined,
  maxIds: number,
): Promise<ResumeAnswer | undefined> {
  if (!('resume' in params)) return undefined;
  const lastSeen = plainObject(plainObject(params.resume)?.lastSeen) ?? {};
  const recovered: Record<string, boolean> = Object.create(null) as Record<string, boolean>;
  const candidates: [id: string, offset: Offset][] = [];
  for (const [id, text] of Object.entries(lastSeen)) {
    recovered[id] = false;
    const offset = parseOffset(text);
    if (offset && candidates.length < maxIds && Buffer.byteLength(id) <= MAX_OPERATION_ID_BYTES) {
      candidates.push([id, offset]);
    }
  }
  const points = new Map<string, Offset>();
  if (history && candidates.length > 0) {
    const answers = await history.recoverable(
      viewer.orgId,
      candidates.map(([, offset]) => offset),
    );
    candidates.forEach(([id, offset], i) => {
      if (!answers[i]) return;
      recovered[id] = true;
      points.set(id, offset);
    });
  }
  return { ack: { resume: { recovered: { ...recovered } } }, points };
}

function plainObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
