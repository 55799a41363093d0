// Nova's entry point (Procfile: `web: node dist/server.js`). EB sends SIGTERM when it
// replaces or terminates an instance; we finish what is in flight so no client sees a
// reset during a deploy.
import { startServer } from './app.js';

const FORCE_EXIT_MS = 10_000;

// PORT=0 picks a free port (tests read it from the first line).
const running = await startServer({ port: process.env.PORT ? Number(process.env.PORT) : 8080 });
console.log(`nova listening on ${running.url}`);

let stopping = false;
function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`nova: ${signal}, finishing in-flight requests`);
  // A stuck client must not keep the instance from being replaced; unref so this timer
  // alone never keeps the process alive.
  setTimeout(() => {
    console.error(`nova: still busy after ${FORCE_EXIT_MS / 1000}s, exiting`);
    process.exit(1);
  }, FORCE_EXIT_MS).unref();
  running.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('nova: close failed:', err);
      process.exit(1);
    },
  );
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
