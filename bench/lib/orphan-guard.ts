/**
 * Preloaded (`--import`) into a server the bench starts with an IPC
 * channel: if the bench dies without cleaning up, even by SIGKILL, the
 * server is asked to stop (SIGTERM), and made to after 5 s. Touches nothing
 * else.
 */
if (process.send) {
  let orphaned = false;
  const leave = () => {
    if (orphaned) return;
    orphaned = true;
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(1), 5000).unref();
  };
  process.on('disconnect', leave);
  // The bench may have died before this listener was in place.
  if (!process.connected) leave();
  setInterval(() => {
    if (!process.connected) leave();
  }, 1000).unref();
  process.channel?.unref();
}
