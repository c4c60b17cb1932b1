import type { ReceiptStatus, SendResult } from '../gateway/gateway.js';

/** What a worker counts as it sends and hears receipts, for `/metrics`: plain numbers bumped in place. */
export interface CampaignCounts {
  /** Gateway answers to campaign sends: accepted, refused for good, or an error (outcome unknown, sent again later). */
  sends: Record<SendResult['status'] | 'error', number>;
  /** Delivery receipts heard, by status (receipts come at least once: repeats are counted). */
  receipts: Record<ReceiptStatus, number>;
}

/** Counters starting at zero. */
export function createCampaignCounts(): CampaignCounts {
  return {
    sends: { accepted: 0, refused: 0, error: 0 },
    receipts: { SENT: 0, DELIVERED: 0, READ: 0, FAILED: 0 },
  };
}

/** A receipt heard; a status this version does not know is not counted (the label stays bounded). */
export function countReceipt(counts: CampaignCounts, status: string): void {
  if (Object.hasOwn(counts.receipts, status)) counts.receipts[status as ReceiptStatus]++;
}
