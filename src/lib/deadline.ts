/**
 * Whether `promise` fulfils within `ms`: false once the time is up (the
 * promise goes on, unwaited), its rejection when it rejects first. Shutdown
 * steps use it to give each phase a bounded share of SHUTDOWN_TIMEOUT_MS.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
