// `logs`: the instances' logs without the EB CLI, as `eb logs` gets them: ask EB to compile
// them (request-environment-info: `tail`, the last 100 lines of each log file, or `bundle`
// with --all, every log file in a zip), poll retrieve-environment-info until each instance
// has a new sample, download each one from the URL EB gives, and print it under a header
// per instance. The URL is a presigned S3 URL (anyone holding it can read the logs for 15
// minutes), so it is fetched without credentials and never printed.
import type { Ctx } from '../context.js';
import { StateError } from '../errors.js';
import * as eb from '../aws/eb.js';
import { pickEnvironment } from '../deploy/pick-environment.js';
import { compiledLogs, COMPILE_DEADLINE_MS } from '../deploy/instance-logs.js';
import type { CommandOptions, CommandResult } from './types.js';


export async function logs(ctx: Ctx, opts: CommandOptions): Promise<CommandResult> {
  const infoType: eb.InfoType = opts.all ? 'bundle' : 'tail';
  const env = await pickEnvironment(ctx, opts.environment);
  const name = env.EnvironmentName;
  // What was compiled before our request (samples stay for 15 minutes) is not an answer to it.
  const [instances, before] = await Promise.all([eb.environmentInstances(ctx.call, name), eb.retrieveEnvironmentInfo(ctx.call, name, infoType)]);
  if (!instances.length) throw new StateError(`${name} has no instances to take logs from (${env.Status}, health ${env.Health ?? '?'})`);
  ctx.log.step(`${name}: asking EB for the ${infoType === 'tail' ? 'last 100 lines of each log' : 'whole logs'} of ${instances.join(', ')}`);
  await eb.requestEnvironmentInfo(ctx.call, name, infoType);
  if (ctx.dryRun) return { environment: name, infoType, instanceIds: instances, dryRun: true };

  const { logs: out, missing } = await compiledLogs(ctx, name, infoType, instances, before, COMPILE_DEADLINE_MS);
  for (const { instanceId, sampleTimestamp, files } of out) {
    ctx.log.result(`============= ${instanceId} (${name}, ${sampleTimestamp ?? '?'}) =============`);
    for (const f of files) {
      if (f.name) ctx.log.result(`----- ${f.name} -----`);
      // One result line per log line: the logger indents a continuation line inside one
      // result (so data cannot forge a line of ours), which would shift every log line.
      for (const line of f.text.replace(/\n$/, '').split('\n')) ctx.log.result(line);
    }
  }
  if (missing.length) ctx.log.warn(`no logs came from ${missing.join(', ')} within ${COMPILE_DEADLINE_MS / 60_000} minutes`);
  return { environment: name, infoType, instances: out, missing };
}
