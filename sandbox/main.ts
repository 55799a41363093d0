// The sandbox as a foreground process: `node dist/sandbox/main.js --port N --router-port N
// --state-dir DIR [--fail-rate R] [--launch-ms N --swap-ms N --terminate-ms N --launch-timeout-ms N]
// [--strict '{"natDelayMs":3000,"takenCnames":["a"]}']`. The strict rules are always on;
// --strict tunes them, with StrictOptions' own fields and units (ms), as control.ts's
// strictArgs writes it; `./run sandbox start` takes them as flags, in seconds.
// Prints one JSON line {"endpoint","router","pid"} once it answers; SIGTERM/SIGINT end it
// and every process it started.
import { parseArgs } from 'node:util';
import { createSandbox } from './server.js';
import type { StrictOptions } from './options.js';
import { removeInfo, writeInfo } from './state-files.js';

function number(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} takes a non-negative number, not '${value}'`);
  return parsed;
}

/** Only the fields given: the rest keep their defaults. */
function strictFrom(json: string | undefined): Partial<StrictOptions> {
  if (json === undefined) return {};
  const given: unknown = JSON.parse(json);
  if (!given || typeof given !== 'object' || Array.isArray(given)) throw new Error(`--strict takes a JSON object of StrictOptions, not '${json}'`);
  return given as Partial<StrictOptions>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '4566' },
      'router-port': { type: 'string', default: '4580' },
      'fail-rate': { type: 'string' },
      'state-dir': { type: 'string', default: '.sandbox' },
      region: { type: 'string' },
      'launch-ms': { type: 'string' },
      'swap-ms': { type: 'string' },
      'terminate-ms': { type: 'string' },
      'launch-timeout-ms': { type: 'string' },
      strict: { type: 'string' },
    },
  });
  const stateDir = values['state-dir']!;
  const sandbox = await createSandbox({
    port: number(values.port, 'port')!,
    routerPort: number(values['router-port'], 'router-port')!,
    failRate: number(values['fail-rate'], 'fail-rate'),
    stateDir,
    region: values.region,
    delays: {
      launchMs: number(values['launch-ms'], 'launch-ms'),
      swapMs: number(values['swap-ms'], 'swap-ms'),
      terminateMs: number(values['terminate-ms'], 'terminate-ms'),
      launchTimeoutMs: number(values['launch-timeout-ms'], 'launch-timeout-ms'),
    },
    strict: strictFrom(values.strict),
  });
  const info = { endpoint: sandbox.endpoint, router: sandbox.router, pid: process.pid };
  writeInfo(stateDir, info);
  // The parent may have closed our stdout (a pipe) after reading the ready line.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${JSON.stringify(info)}\n`);

  const shutdown = (signal: string) => {
    console.error(`sandbox: ${signal}, stopping every environment and moto`);
    sandbox
      .close()
      .catch((error: Error) => console.error(`sandbox: close failed: ${error.message}`))
      .finally(() => {
        removeInfo(stateDir, process.pid);
        process.exit(0);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  // A bug must not leave moto and the apps running without anyone to stop them.
  process.once('uncaughtException', (error) => {
    console.error(`sandbox: ${error.stack ?? error.message}`);
    shutdown('uncaught exception');
  });
}

main().catch((error: Error) => {
  console.error(`sandbox: ${error.message}`);
  process.exit(1);
});
