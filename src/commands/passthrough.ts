// `./run -- aws ...` and `../run -- eb ...`: the phase's credentials, region and endpoint,
// the caller's folder, and the tool's own exit code.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Ctx } from '../context.js';
import { UsageError } from '../errors.js';
import { parseEbList, parseEbStatus } from '../aws/eb-output.js';

export interface PassthroughResult {
  exitCode: number;
  output?: unknown;
}

/** Pretty JSON with keys sorted at every depth, as the original printed aws answers. */
export function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]))
        : v;
  return JSON.stringify(sort(value), null, 4);
}

export async function passthrough(ctx: Ctx, argv: string[], cwd: string): Promise<PassthroughResult> {
  const [tool, ...args] = argv;
  if (tool === 'aws') {
    if (!ctx.aws.env.AWS_DEFAULT_OUTPUT) ctx.aws.env.AWS_DEFAULT_OUTPUT = 'json';
    const r = await ctx.aws.passthrough('aws', args, { cwd });
    if (r.stderr) ctx.log.raw(r.stderr, 'err');
    let parsed: unknown;
    try {
      parsed = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
    } catch {
      parsed = undefined;
    }
    if (ctx.json) return { exitCode: r.exitCode, output: parsed ?? r.stdout };
    if (parsed !== undefined) ctx.log.raw(sortedJson(parsed) + '\n');
    else if (r.stdout) ctx.log.raw(r.stdout);
    return { exitCode: r.exitCode };
  }
  if (tool === 'eb') {
    checkEbConfig(ctx, cwd);
    if (!ctx.json) {
      const r = await ctx.aws.passthrough('eb', args, { cwd, stream: true });
      return { exitCode: r.exitCode };
    }
    const r = await ctx.aws.passthrough('eb', args, { cwd });
    if (r.stderr) ctx.log.raw(r.stderr, 'err');
    const sub = args.find((a) => !a.startsWith('-'));
    const output = sub === 'list' ? parseEbList(r.stdout) : sub === 'status' ? parseEbStatus(r.stdout) : r.stdout;
    return { exitCode: r.exitCode, output };
  }
  throw new UsageError(
    `after -- comes aws or eb, not '${tool ?? ''}'`,
    "e.g. ./run -- aws ec2 describe-vpcs, or cd nova; ../run -- eb list",
  );
}

/**
 * The EB CLI reads its application from `.elasticbeanstalk/config.yml` in the folder, which
 * create_nova writes for the phase it deploys: with several phases, the file may name
 * another phase's application, and `eb terminate` would then act on that one.
 */
export function checkEbConfig(ctx: Pick<Ctx, 'config' | 'phase'>, cwd: string): void {
  const file = path.join(cwd, '.elasticbeanstalk', 'config.yml');
  if (!existsSync(file)) return;
  const app = /^\s*application_name:\s*(\S+)\s*$/m.exec(readFileSync(file, 'utf8'))?.[1];
  const ours = ctx.config.elasticbeanstalk.APPLICATION_NAME;
  if (app && app !== ours) {
    throw new UsageError(
      `${file} is for application '${app}', not phase ${ctx.phase}'s '${ours}'`,
      `run create_nova for phase ${ctx.phase} (it rewrites the file), or pass the phase's config whose application is '${app}'`,
    );
  }
}
