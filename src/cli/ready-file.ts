/**
 * `fedcrypt player --ready-file <path>`: a file that exists while the player
 * serves, touched every few seconds, for a supervisor's probes (Kubernetes
 * exec probes in deploy/k8s/) that must not open a connection to the
 * player's port (a bare TCP probe is a refused TLS handshake, logged each time).
 */
import { rmSync, utimesSync, writeFileSync } from 'node:fs';

/** Write `path` now and touch it every `everyMs`; the returned function removes it. */
export function holdReadyFile(path: string, text: string, everyMs = 10_000): () => void {
  writeFileSync(path, text);
  const t = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // removed by someone else: write it again
      try { writeFileSync(path, text); } catch { /* the next tick tries again */ }
    }
  }, everyMs);
  t.unref();
  return () => {
    clearInterval(t);
    rmSync(path, { force: true });
  };
}
