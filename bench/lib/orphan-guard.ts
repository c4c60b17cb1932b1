/**
 * Preloaded (`--import`) into a server the bench starts with an IPC
 * channel: if the bench dies without cleaning up, the server stops itself.
 * Touches nothing else.
 */
if (process.send) {
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.channel?.unref();
}
