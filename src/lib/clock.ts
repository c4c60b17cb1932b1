/**
 * How far ahead of this process' clock another's (an instance's, Redis')
 * may run. A time from outside (a Redis message, a stored record) later
 * than that was made by no clock of the deployment: it is forged or
 * corrupt, and trusting it would hold whatever it dates in the future.
 */
export const MAX_CLOCK_SKEW_MS = 60_000;

/** True when `ms` (epoch milliseconds, from outside) lies further ahead than any clock of the deployment. */
export function isFromTheFuture(ms: number, now = Date.now()): boolean {
  return ms > now + MAX_CLOCK_SKEW_MS;
}
