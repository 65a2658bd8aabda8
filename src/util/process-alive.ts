/**
 * Whether a process exists, by signal 0. EPERM means it exists but belongs to another user (so it
 * is alive); ESRCH, or a pid that names no single process, means it is not. Callers that must not
 * count themselves (a pid reused in a fresh container) compare with process.pid first.
 */
export function isProcessAlive(pid: number | undefined): boolean {
  // 0 and negative pids address process groups, not one process.
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
