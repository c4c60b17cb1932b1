import { clock } from './clock.js';

/**
 * The one event every target delivers: a `QrCodeUpdated` session event as
 * the server's topic map types it. Its `qrCode` carries the run, sequence
 * number and publish time, so a client learns everything it needs with one
 * `indexOf` and no JSON parse: `bench:<run>:<seq>:<publishedAtMs>:<padding>`.
 */
export const MARK = 'bench:';
/** Run 0 is the liveness probe; measured runs count from 1. */
export const PROBE_RUN = 0;
const PADDING = 'x'.repeat(120);

export interface BenchEvent {
  __typename: 'QrCodeUpdated';
  sessionId: string;
  qrCode: string;
  occurredAt: string;
}

export function makeEvent(sessionId: string, run: number, seq: number): BenchEvent {
  const t = clock();
  return {
    __typename: 'QrCodeUpdated',
    sessionId,
    qrCode: `${MARK}${run}:${seq}:${t.toFixed(3)}:${PADDING}`,
    occurredAt: new Date(t).toISOString(),
  };
}

/** The subscription our server and the plain GraphQL stack both run. */
export const SUBSCRIPTION = `subscription Bench($sessionId: ID!) {
  sessionEvents(sessionId: $sessionId) {
    __typename
    ... on QrCodeUpdated { sessionId qrCode occurredAt }
  }
}`;
