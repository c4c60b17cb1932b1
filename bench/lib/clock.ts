/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable
 * between the processes of one machine (publish time in the orchestrator,
 * receipt time in a client worker).
 */
export const origin = performance.timeOrigin;
export function clock(): number {
  return origin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
