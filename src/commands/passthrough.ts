// `./run -- aws ...` and `../run -- eb ...`: the phase's credentials, region and endpoint,
// the caller's folder, and the tool's own exit code.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { Ctx } from '../context.js';
import { UsageError } from '../errors.js';
import { isMutating } from '../aws/cli.js';
import * as eb from '../aws/eb.js';
import { parseEbList, parseEbStatus } from '../aws/eb-output.js';
import { writeEbConfig } from '../deploy/blue-green.js';
import { holderOfMain, mainCname } from '../deploy/environments.js';

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
    if (ctx.aws.endpoint !== undefined) {
      await checkEbStaysInSandbox(ctx);
      await writeSandboxEbConfig(ctx, cwd);
      // eb's own flag sets the Elastic Beanstalk client's endpoint (ebcli/core/hooks.py,
      // set_endpoint); its other clients (S3, IAM, EC2, ...) take AWS_ENDPOINT_URL (R55).
      args.push('--endpoint-url', ctx.aws.endpoint);
    }
    const mutating = !ebReadOnly(args);
    if (!ctx.json) {
      const r = await ctx.aws.passthrough('eb', args, { cwd, stream: true, mutating });
      return { exitCode: r.exitCode };
    }
    const r = await ctx.aws.passthrough('eb', args, { cwd, mutating });
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

/** eb's global options that take a value: the command is the first word that is not one of them. */
const EB_VALUE_OPTIONS = new Set(['-r', '--region', '--profile', '--endpoint-url']);

function ebWords(args: readonly string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (EB_VALUE_OPTIONS.has(args[i])) i++;
    else if (!args[i].startsWith('-')) words.push(args[i]);
  }
  return words;
}

/**
 * The EB CLI commands that only read (README, "The passthrough"): they need no phase
 * confirmation and are logged as reads. `logs` asks EB to gather the logs, which changes
 * nothing the user owns. Anything else (deploy, swap, setenv, scale, terminate, create,
 * config without --display, appversion --delete, ...) counts as a change.
 */
export function ebReadOnly(args: readonly string[]): boolean {
  if (args.includes('--version') || args.includes('-h') || args.includes('--help')) return true;
  const [command, sub] = ebWords(args);
  switch (command) {
    case 'list': case 'status': case 'health': case 'events': case 'printenv': case 'logs':
      return true;
    case 'config':
      return args.includes('--display') || sub === 'list';
    case 'tags':
      return (args.includes('--list') || args.includes('-l')) && !args.some((a) => ['-a', '--add', '-u', '--update', '-d', '--delete'].includes(a));
    case 'platform':
      return sub === 'show' || sub === 'list';
    case 'appversion':
      return sub === undefined && !args.some((a) => ['-d', '--delete'].includes(a));
    default:
      return false;
  }
}

/** Whether a passthrough may change AWS: it then asks for the phase confirmation and is logged as a change. */
export function passthroughChanges(argv: readonly string[]): boolean {
  const [tool, ...args] = argv;
  if (tool === 'aws') return isMutating(args);
  if (tool === 'eb') return !ebReadOnly(args);
  return true;
}

/**
 * botocore honours AWS_ENDPOINT_URL from 1.31.0 (the AWS SDKs and Tools reference guide,
 * "Service-specific endpoints", lists botocore 1.31.0 / AWS CLI v1 1.29.0; R55). An eb on an
 * older botocore would send every call but EB's to AWS's real endpoints, so on a sandbox
 * phase it is refused. Its botocore is asked of the Python its `eb` script names.
 */
export const MIN_EB_BOTOCORE = [1, 31, 0] as const;

async function checkEbStaysInSandbox(ctx: Ctx): Promise<void> {
  const found = whichEb(ctx.aws.env.PATH ?? process.env.PATH ?? '');
  if (!found) return; // the run itself then says eb is not on PATH, with how to install it
  const version = await ebBotocoreVersion(found);
  const fix = "install the EB CLI with botocore 1.31 or later beside it (pip install --upgrade awsebcli botocore), or use an AWS phase";
  if (!version) {
    throw new UsageError(`cannot tell which botocore ${found} uses, so cannot be sure it stays in the sandbox (it needs AWS_ENDPOINT_URL, botocore ${MIN_EB_BOTOCORE.join('.')}+)`, fix);
  }
  const parts = version.split('.').map(Number);
  const differs = MIN_EB_BOTOCORE.findIndex((min, i) => parts[i] !== min);
  if (differs !== -1 && parts[differs] < MIN_EB_BOTOCORE[differs]) {
    throw new UsageError(`${found} uses botocore ${version}, which ignores AWS_ENDPOINT_URL: its calls would leave the sandbox for AWS`, fix);
  }
}

function whichEb(pathVar: string): string | undefined {
  for (const dir of pathVar.split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, 'eb');
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `#!/path/python` (or `#!/usr/bin/env python3`) of the eb script, asked for botocore's version. */
async function ebBotocoreVersion(file: string): Promise<string | undefined> {
  const buffer = Buffer.alloc(512);
  const fd = openSync(file, 'r');
  let first: string;
  try {
    first = buffer.subarray(0, readSync(fd, buffer, 0, 512, 0)).toString('utf8').split('\n')[0];
  } finally {
    closeSync(fd);
  }
  if (!first.startsWith('#!')) return undefined;
  const [interpreter, ...rest] = first.slice(2).trim().split(/\s+/);
  const r = await execa(interpreter, [...rest, '-c', 'import botocore; print(botocore.__version__)'], { reject: false, timeout: 30_000 });
  const m = /^(\d+\.\d+\.\d+)/m.exec(r.stdout.trim());
  return r.exitCode === 0 && m ? m[1] : undefined;
}

/**
 * A sandbox phase's config.yml for the EB CLI (create_nova writes it for an AWS phase): the
 * application, the region, the environment on the main CNAME. Written at each eb
 * passthrough, only over a file Johanna wrote, so it always names this phase's live one.
 */
async function writeSandboxEbConfig(ctx: Ctx, cwd: string): Promise<void> {
  const file = path.join(cwd, '.elasticbeanstalk', 'config.yml');
  if (existsSync(file) && !readFileSync(file, 'utf8').startsWith('# Written by johanna')) return;
  if (path.resolve(cwd) !== path.join(ctx.root, 'nova')) return; // eb run elsewhere keeps its own files
  let live: string | undefined;
  let platform: string | undefined;
  try {
    const holder = holderOfMain(await eb.describeEnvironments(ctx.call, ctx.config.elasticbeanstalk.APPLICATION_NAME), mainCname(ctx));
    live = holder?.EnvironmentName;
    platform = holder?.SolutionStackName;
  } catch (err) {
    ctx.log.warn(`could not find the live environment for eb's config.yml: ${(err as Error).message}; eb commands then need an environment name`);
  }
  writeEbConfig(ctx, live ?? '', platform);
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
