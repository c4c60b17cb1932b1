import { z } from 'zod';
import { identityId } from '../auth/claims.js';
import type { MessageStatus, SessionStatus, TaskStatus } from '../generated/graphql.js';

/** Every value of a GraphQL enum, checked by the compiler against the generated type. */
function enumOf<T extends string>() {
  return <const V extends readonly [T, ...T[]]>(values: V & ([Exclude<T, V[number]>] extends [never] ? V : never)) =>
    z.enum(values);
}

const id = z.string().min(1).max(128);
/** The organisation a call acts in obeys a token's `org` rules. */
const orgId = identityId;
const text = z.string();
const optionalText = z.string().nullish();
/** As the GraphQL argument: makes a create safe to retry (checked by the domain, as for users). */
const idempotencyKey = z.string().nullish();

const SessionStatusValues = enumOf<SessionStatus>()([
  'DISCONNECTED',
  'CONNECTING',
  'QR_REQUIRED',
  'CONNECTED',
  'RECONNECTING',
  'ERROR',
]);
const MessageStatusValues = enumOf<MessageStatus>()(['QUEUED', 'SENT', 'DELIVERED', 'READ', 'FAILED']);
const TaskStatusValues = enumOf<TaskStatus>()(['TODO', 'IN_PROGRESS', 'BLOCKED', 'DONE']);

/** Shapes of every publisher call; the domain services check the rules (lengths, ranges, access). */
export const inputs = {
  sessionStatus: z.object({
    orgId,
    sessionId: id,
    status: SessionStatusValues,
    qrCode: optionalText,
    phoneNumber: optionalText,
    displayName: optionalText,
    error: optionalText,
  }),
  messageStatus: z.object({ orgId, messageId: id, status: MessageStatusValues }),
  notification: z.object({
    orgId,
    recipientId: id,
    kind: text,
    title: text,
    body: optionalText,
    data: z.unknown().optional(),
    idempotencyKey,
  }),
  createCampaign: z.object({
    orgId,
    name: text,
    sessionId: id,
    message: text,
    recipients: z.array(z.string()),
    idempotencyKey,
  }),
  campaign: z.object({ orgId, campaignId: id }),
  createTask: z.object({ orgId, title: text, description: optionalText, assigneeId: id.nullish(), idempotencyKey }),
  updateTask: z.object({ orgId, taskId: id, title: optionalText, description: optionalText }),
  assignTask: z.object({ orgId, taskId: id, assigneeId: id.nullable() }),
  setTaskStatus: z.object({ orgId, taskId: id, status: TaskStatusValues }),
  setTaskProgress: z.object({ orgId, taskId: id, progress: z.number() }),
  addTaskNote: z.object({ orgId, taskId: id, text, idempotencyKey }),
};

export type PublisherInputs = { [K in keyof typeof inputs]: z.input<(typeof inputs)[K]> };
