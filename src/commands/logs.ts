// `logs`: the instances' logs without the EB CLI, as `eb logs` gets them: ask EB to compile
// them (request-environment-info: `tail`, the last 100 lines of each log file, or `bundle`
// with --all, every log file in a zip), poll retrieve-environment-info until each instance
// has a new sample, download each one from the URL EB gives, and print it under a header
// per instance. The URL is a presigned S3 URL (anyone holding it can read the logs for 15
// minutes), so it is fetched without credentials and never printed.
import { unzipSync } from 'fflate';
import type { Ctx } from '../context.js';
import { StateError, TimeoutError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { pickEnvironment } from '../deploy/pick-environment.js';
import { pollMs, waitFor } from '../time.js';
import { plainLines } from '../ui/plain-text.js';
import type { CommandOptions, CommandResult } from './types.js';

/** The EB CLI waits 2 minutes for the logs to be compiled (ebcli/operations/logsops.py); so do we. */
const COMPILE_DEADLINE_MS = 2 * 60_000;
const DOWNLOAD_TIMEOUT_MS = 60_000;

export interface InstanceLog {
  instanceId: string;
  sampleTimestamp?: string;
  /** For a bundle: each file of the zip; for a tail: one text. */
  files: { name?: string; text: string }[];
}

export async function logs(ctx: Ctx, opts: CommandOptions): Promise<CommandResult> {
  const infoType: eb.InfoType = opts.all ? 'bundle' : 'tail';
  const env = await pickEnvironment(ctx, opts.environment);
  const name = env.EnvironmentName;
  // What was compiled before our request (samples stay for 15 minutes) is not an answer to it.
  const [instances, before] = await Promise.all([eb.environmentInstances(ctx.call, name), eb.retrieveEnvironmentInfo(ctx.call, name, infoType)]);
  if (!instances.length) throw new StateError(`${name} has no instances to take logs from (${env.Status}, health ${env.Health ?? '?'})`);
  const old = new Set(before.map((i) => i.Message));
  ctx.log.step(`${name}: asking EB for the ${infoType === 'tail' ? 'last 100 lines of each log' : 'whole logs'} of ${instances.join(', ')}`);
  await eb.requestEnvironmentInfo(ctx.call, name, infoType);
  if (ctx.dryRun) return { environment: name, infoType, instanceIds: instances, dryRun: true };

  const fresh = await waitForSamples(ctx, name, infoType, instances, old);
  const out: InstanceLog[] = [];
  for (const instanceId of instances.filter((i) => fresh.has(i))) {
    const info = fresh.get(instanceId)!;
    const body = await download(ctx, info.Message!, instanceId);
    const files: InstanceLog['files'] = infoType === 'bundle' ? unzipped(body) : [{ text: plainLines(new TextDecoder().decode(body)) }];
    out.push({ instanceId, sampleTimestamp: info.SampleTimestamp, files });
    ctx.log.result(`============= ${instanceId} (${name}, ${info.SampleTimestamp ?? '?'}) =============`);
    for (const f of files) {
      if (f.name) ctx.log.result(`----- ${f.name} -----`);
      // One result line per log line: the logger indents a continuation line inside one
      // result (so data cannot forge a line of ours), which would shift every log line.
      for (const line of f.text.replace(/\n$/, '').split('\n')) ctx.log.result(line);
    }
  }
  const missing = instances.filter((i) => !fresh.has(i));
  if (missing.length) ctx.log.warn(`no logs came from ${missing.join(', ')} within ${COMPILE_DEADLINE_MS / 60_000} minutes`);
  return { environment: name, infoType, instances: out, missing };
}

/**
 * Each instance's newest sample that was not there before our request. Waits until every
 * instance has one, or the deadline; what came by then is shown, and none at all is a failure.
 */
async function waitForSamples(ctx: Ctx, name: string, infoType: eb.InfoType, instances: string[], old: Set<string | undefined>): Promise<Map<string, eb.EnvironmentInfo>> {
  const fresh = new Map<string, eb.EnvironmentInfo>();
  const deadline = Date.now() + COMPILE_DEADLINE_MS;
  try {
    await waitFor(ctx, {
      what: `EB to compile the logs of ${name}`,
      deadline,
      intervalMs: pollMs(ctx),
      check: async () => {
        // Latest last, so a later sample of an instance replaces an earlier one.
        for (const i of await eb.retrieveEnvironmentInfo(ctx.call, name, infoType, 'poll')) {
          if (i.Ec2InstanceId && i.Message && !old.has(i.Message)) fresh.set(i.Ec2InstanceId, i);
        }
        const waiting = instances.filter((i) => !fresh.has(i));
        return waiting.length ? { state: `waiting for ${waiting.join(', ')}` } : { done: true };
      },
    });
  } catch (err) {
    if (!(err instanceof TimeoutError) || fresh.size === 0) throw err;
  }
  return fresh;
}

async function download(ctx: Ctx, url: string, instanceId: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)]) });
  } catch (err) {
    throw new StateError(`could not download the logs of ${instanceId}: ${(err as Error).message}`, 'run ./run logs again');
  }
  // Say the status, not the URL: the URL is the key to the logs.
  if (!res.ok) throw new StateError(`could not download the logs of ${instanceId}: HTTP ${res.status}`, 'the compiled logs are kept 15 minutes; run ./run logs again');
  return new Uint8Array(await res.arrayBuffer());
}

function unzipped(zip: Uint8Array): { name: string; text: string }[] {
  const entries = unzipSync(zip);
  return Object.keys(entries)
    .filter((n) => !n.endsWith('/'))
    .sort()
    .map((n) => ({ name: n, text: plainLines(new TextDecoder().decode(entries[n])) }));
}
