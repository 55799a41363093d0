// The instances' logs as EB compiles them (request-environment-info, then
// retrieve-environment-info until each instance has a sample newer than the request, then a
// download from the presigned S3 URL EB gives, never printed): for `./run logs`, and for a
// failed deploy, which shows its new environment's log tail before removing it.
import { unzipSync } from 'fflate';
import type { Ctx } from '../context.js';
import { StateError, TimeoutError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { pollMs, waitFor } from '../time.js';
import { plainLines } from '../ui/plain-text.js';

/** The EB CLI waits 2 minutes for the logs to be compiled (ebcli/operations/logsops.py); so do we. */
export const COMPILE_DEADLINE_MS = 2 * 60_000;
const DOWNLOAD_TIMEOUT_MS = 60_000;

export interface InstanceLog {
  instanceId: string;
  sampleTimestamp?: string;
  /** For a bundle: each file of the zip; for a tail: one text. */
  files: { name?: string; text: string }[];
}

/**
 * The newest SampleTimestamp of each instance among `samples`: what a sample must be newer than
 * to answer a request made after they were read. Not the URL: EB signs a new one for every
 * retrieval (issue 19 item 5); and not our clock, which may disagree with AWS's.
 */
export function newestSamples(samples: eb.EnvironmentInfo[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    const t = Date.parse(s.SampleTimestamp ?? '');
    if (s.Ec2InstanceId && Number.isFinite(t) && t > (out.get(s.Ec2InstanceId) ?? -Infinity)) out.set(s.Ec2InstanceId, t);
  }
  return out;
}

/** The logs EB compiled for `instances` after our request (`before`: the samples retrieved before it), within `deadlineMs`. */
export async function compiledLogs(ctx: Ctx, name: string, infoType: eb.InfoType, instances: string[], before: eb.EnvironmentInfo[], deadlineMs: number): Promise<{ logs: InstanceLog[]; missing: string[] }> {
  const fresh = await waitForSamples(ctx, name, infoType, instances, newestSamples(before), deadlineMs);
  const logs: InstanceLog[] = [];
  for (const instanceId of instances.filter((i) => fresh.has(i))) {
    const info = fresh.get(instanceId)!;
    const body = await download(ctx, info.Message!, instanceId);
    const files: InstanceLog['files'] = infoType === 'bundle' ? unzipped(body) : [{ text: plainLines(new TextDecoder().decode(body)) }];
    logs.push({ instanceId, sampleTimestamp: info.SampleTimestamp, files });
  }
  return { logs, missing: instances.filter((i) => !fresh.has(i)) };
}

/**
 * Each instance's newest sample that was not there before our request. Waits until every
 * instance has one, or the deadline; what came by then is shown, and none at all is a failure.
 */
async function waitForSamples(ctx: Ctx, name: string, infoType: eb.InfoType, instances: string[], old: Map<string, number>, deadlineMs: number): Promise<Map<string, eb.EnvironmentInfo>> {
  const fresh = new Map<string, eb.EnvironmentInfo>();
  const deadline = Date.now() + deadlineMs;
  try {
    await waitFor(ctx, {
      what: `EB to compile the logs of ${name}`,
      deadline,
      intervalMs: pollMs(ctx),
      check: async () => {
        // Latest last, so a later sample of an instance replaces an earlier one.
        for (const i of await eb.retrieveEnvironmentInfo(ctx.call, name, infoType, 'poll')) {
          if (i.Ec2InstanceId && i.Message && Date.parse(i.SampleTimestamp ?? '') > (old.get(i.Ec2InstanceId) ?? -Infinity)) fresh.set(i.Ec2InstanceId, i);
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
