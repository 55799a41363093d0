// The phase config: the original's sections and keys (so an old env.py/config.json carries
// over key for key) plus optional new ones. Values may be strings, as in the original, or
// JSON numbers/booleans; the parsed Config has real types.
import { z } from 'zod';
import { contains, overlaps, parseCidr } from './cidr.js';

const str = (what: string) =>
  z.string({ required_error: `missing; expected ${what}`, invalid_type_error: `expected ${what} as a string` }).trim().min(1, `empty; expected ${what}`);

const intLike = (what: string, min: number, max: number) =>
  z
    .union([z.number(), z.string()], {
      errorMap: (_issue, ctx) => ({ message: ctx.data === undefined ? `missing; expected ${what}` : `expected ${what}` }),
    })
    .transform((v, ctx) => {
      const n = typeof v === 'number' ? v : /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected ${what} (a whole number from ${min} to ${max}), got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return n;
    });

const boolLike = z
  .union([z.boolean(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'boolean') return v;
    if (/^(true|1|yes)$/i.test(v)) return true;
    if (/^(false|0|no)$/i.test(v)) return false;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected "True" or "False", got ${JSON.stringify(v)}` });
    return z.NEVER;
  });

const cidr = (what: string) =>
  str(`${what} as an IPv4 CIDR such as 10.210.0.0/16`).refine((v) => parseCidr(v) !== undefined, {
    message: `not a network CIDR; expected ${what} such as 10.210.0.0/16 (no host bits set)`,
  });

// The standard partition only: ARNs (arn:aws:) and EB's domain (elasticbeanstalk.com) differ
// in China and GovCloud, and we have not built for those.
const REGION = /^(?!cn-)[a-z]{2}-[a-z]+-\d$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
// The new environment gets `<CNAME>-<unix timestamp>` on a daily deploy: 11 more characters,
// and an EB CNAME prefix is at most 63.
const CNAME_MAX = 63 - 11;

const loopbackUrl = z
  .string()
  .url('expected a URL such as http://127.0.0.1:4566')
  .refine((v) => /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+\/?$/.test(v), {
    message: 'the sandbox endpoint must be http://127.0.0.1:<port> (the sandbox binds to loopback only)',
  });

export const configSchema = z
  .object({
    aws: z.object(
      {
        AWS_AVAILABILITY_ZONE_1: str('an availability zone such as ap-northeast-2a'),
        AWS_AVAILABILITY_ZONE_2: str('an availability zone such as ap-northeast-2c'),
        AWS_DEFAULT_REGION: str('a region such as ap-northeast-2').refine((v) => REGION.test(v), {
          message: 'not a region of the standard AWS partition; expected e.g. ap-northeast-2 (China and GovCloud are not supported)',
        }),
        AWS_ACCESS_KEY_ID: z.string().optional(),
        AWS_SECRET_ACCESS_KEY: z.string().optional(),
        // The aws CLI to run (a name on PATH or a path, relative to this file); JOHANNA_AWS_CLI wins.
        CLI: str('the aws CLI to run, e.g. /usr/local/bin/aws').optional(),
      },
      { required_error: 'missing section; expected {"AWS_DEFAULT_REGION": ..., "AWS_AVAILABILITY_ZONE_1": ..., "AWS_AVAILABILITY_ZONE_2": ...}' },
    ),
    common: z.object(
      {
        AWS_KEY_PAIR_MATERIAL: str('a public key such as "ssh-rsa AAAA..."').refine(
          // EC2 imports RSA and ED25519 keys only.
          (v) => /^(ssh-rsa|ssh-ed25519) [A-Za-z0-9+/=]+/.test(v),
          { message: 'expected an OpenSSH RSA or ED25519 public key ("ssh-rsa AAAA..." or "ssh-ed25519 AAAA..."), not a private key' },
        ),
        AWS_KEY_PAIR_NAME: str('a key pair name').refine((v) => v.length <= 255, { message: 'at most 255 characters' }),
        AWS_SUBNET_EB_PRIVATE_1: cidr('a subnet of AWS_VPC_EB'),
        AWS_SUBNET_EB_PRIVATE_2: cidr('a subnet of AWS_VPC_EB'),
        AWS_SUBNET_EB_PUBLIC_1: cidr('a subnet of AWS_VPC_EB'),
        AWS_SUBNET_EB_PUBLIC_2: cidr('a subnet of AWS_VPC_EB'),
        AWS_VPC_EB: cidr('the VPC CIDR'),
        DEBUG: boolLike.default(false),
        HOST_NOVA: str('the host name Nova is served at'),
        PHASE: str('the phase name, e.g. dv').refine((v) => /^[a-z][a-z0-9-]{0,15}$/.test(v), {
          message: 'expected a short lower-case name such as dv, qa or op (letters, digits, -; at most 16)',
        }),
        URL_NOVA: str('the URL Nova is served at').url('expected a URL such as http://dv-nova.ap-northeast-2.elasticbeanstalk.com'),
      },
      { required_error: 'missing section; expected the phase\'s "common" settings (PHASE, AWS_VPC_EB, subnets, key pair, ...)' },
    ),
    elasticbeanstalk: z.object(
      {
        APPLICATION_NAME: str('the Elastic Beanstalk application name').refine((v) => v.length <= 100, {
          message: 'at most 100 characters',
        }),
      },
      { required_error: 'missing section; expected {"APPLICATION_NAME": ...}' },
    ),
    nova: z.object(
      {
        AWS_ASG_MAX_VALUE: intLike('the Auto Scaling group maximum', 1, 10000),
        AWS_ASG_MIN_VALUE: intLike('the Auto Scaling group minimum', 1, 10000),
        CNAME: str('a CNAME prefix such as dv-nova').refine((v) => DNS_LABEL.test(v) && v.length <= CNAME_MAX, {
          message: `not a valid DNS label: use a-z, 0-9 and -, not starting or ending with -, at most ${CNAME_MAX} characters (a daily deploy appends -<timestamp>)`,
        }),
        INSTANCE_TYPE: str('an EC2 instance type').regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'expected an EC2 instance type such as t2.nano').default('t2.nano'),
        PLATFORM: str('a solution stack name or a part of one').optional(),
        HEALTH_CHECK_URL: str('a path such as /echo/').regex(/^\/\S*$/, 'expected a path starting with /, such as /echo/').default('/echo/'),
        DEPLOY_TIMEOUT_MINUTES: intLike('minutes', 1, 24 * 60).default(30),
        OLD_ENVIRONMENT_GRACE_MINUTES: intLike('minutes', 0, 7 * 24 * 60).default(50),
        GIT_URL: str('a git URL').optional(),
        GIT_BRANCH: str('a git branch').optional(),
        SMOKE_TEST_COMMAND: str('a shell command').optional(),
        KEEP_FAILED_ENVIRONMENT: boolLike.default(false),
        // Extra environment settings for the app (name -> value), beside PHASE, VERSION_LABEL, DEBUG, HOST_NOVA, URL_NOVA.
        ENVIRONMENT: z
          .record(
            z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected environment variable names (letters, digits, _)'),
            z.union([z.string(), z.number(), z.boolean()]).transform(String),
          )
          .default({}),
      },
      { required_error: 'missing section; expected {"CNAME": ..., "AWS_ASG_MIN_VALUE": ..., "AWS_ASG_MAX_VALUE": ...}' },
    ),
    notify: z
      .object({
        SLACK_WEBHOOK_URL: z.string().url('expected an https URL for the Slack incoming webhook').optional(),
      })
      .default({}),
    lock: z
      .object({
        TTL_MINUTES: intLike('minutes', 1, 24 * 60).default(90),
      })
      .default({}),
    sandbox: z
      .object({
        ENDPOINT: loopbackUrl,
        ROUTER: z
          .string({ required_error: 'missing; expected host:port of the sandbox router, e.g. 127.0.0.1:4580' })
          .regex(/^(127\.\d+\.\d+\.\d+|localhost):\d{1,5}$/, 'expected 127.0.0.1:<port> (the router binds to loopback only)'),
      })
      .optional(),
  });

export type Config = z.output<typeof configSchema>;

/** Keys the schema knows, to warn about typos (an unknown key is ignored, not an error). */
export function unknownKeys(raw: unknown): string[] {
  const out: string[] = [];
  if (!raw || typeof raw !== 'object') return out;
  const shape = configSchema.shape as Record<string, z.ZodTypeAny>;
  for (const [section, value] of Object.entries(raw as Record<string, unknown>)) {
    const sec = shape[section];
    if (!sec) {
      out.push(section);
      continue;
    }
    let inner: z.ZodTypeAny = sec;
    while (!(inner instanceof z.ZodObject) && inner._def?.innerType) inner = inner._def.innerType;
    if (inner instanceof z.ZodObject && value && typeof value === 'object') {
      for (const k of Object.keys(value)) if (!(k in inner.shape)) out.push(`${section}.${k}`);
    }
  }
  return out;
}

export interface CrossProblem {
  path: string;
  message: string;
}

const get = (raw: unknown, section: string, key: string): unknown =>
  raw && typeof raw === 'object' ? ((raw as Record<string, Record<string, unknown>>)[section] ?? {})[key] : undefined;
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : undefined);

/**
 * Checks between fields, run on the raw file beside the schema, so that one missing key
 * elsewhere does not hide them: every problem is reported at once. Each check runs only when
 * the values it compares are readable (the schema reports the unreadable ones).
 */
export function crossFieldProblems(raw: unknown): CrossProblem[] {
  const out: CrossProblem[] = [];
  const at = (path: string, message: string) => out.push({ path, message });
  const region = text(get(raw, 'aws', 'AWS_DEFAULT_REGION'));
  const az1 = text(get(raw, 'aws', 'AWS_AVAILABILITY_ZONE_1'));
  const az2 = text(get(raw, 'aws', 'AWS_AVAILABILITY_ZONE_2'));
  if (region && REGION.test(region)) {
    for (const [k, az] of [['AWS_AVAILABILITY_ZONE_1', az1], ['AWS_AVAILABILITY_ZONE_2', az2]] as const) {
      if (az && !(az.startsWith(region) && /^[a-z]$/.test(az.slice(region.length)))) {
        at(`aws.${k}`, `"${az}" is not an availability zone of region ${region}; expected e.g. ${region}a`);
      }
    }
  }
  if (az1 && az1 === az2) at('aws.AWS_AVAILABILITY_ZONE_2', 'must differ from AWS_AVAILABILITY_ZONE_1: the load balancer needs two zones');

  const min = Number(text(get(raw, 'nova', 'AWS_ASG_MIN_VALUE')));
  const max = Number(text(get(raw, 'nova', 'AWS_ASG_MAX_VALUE')));
  if (Number.isInteger(min) && Number.isInteger(max) && min > max) at('nova.AWS_ASG_MIN_VALUE', `is ${min}, above AWS_ASG_MAX_VALUE (${max})`);
  const gitUrl = text(get(raw, 'nova', 'GIT_URL'));
  const gitBranch = text(get(raw, 'nova', 'GIT_BRANCH'));
  if (Boolean(gitUrl) !== Boolean(gitBranch)) {
    at(`nova.${gitUrl ? 'GIT_BRANCH' : 'GIT_URL'}`, 'GIT_URL and GIT_BRANCH go together: set both, or neither to deploy ./nova');
  }

  const vpcText = text(get(raw, 'common', 'AWS_VPC_EB'));
  const vpc = vpcText ? parseCidr(vpcText) : undefined;
  const keys = ['AWS_SUBNET_EB_PRIVATE_1', 'AWS_SUBNET_EB_PRIVATE_2', 'AWS_SUBNET_EB_PUBLIC_1', 'AWS_SUBNET_EB_PUBLIC_2'] as const;
  const subnets = keys.map((k) => {
    const t = text(get(raw, 'common', k));
    return { k, t, c: t ? parseCidr(t) : undefined };
  });
  if (vpc) {
    if (vpc.bits < 16 || vpc.bits > 28) at('common.AWS_VPC_EB', `a VPC CIDR must be /16 to /28, got /${vpc.bits}`);
    for (const s of subnets) if (s.c && !contains(vpc, s.c)) at(`common.${s.k}`, `${s.t} is outside the VPC CIDR ${vpcText}`);
  }
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      const a = subnets[i];
      const b = subnets[j];
      if (a.c && b.c && overlaps(a.c, b.c)) at(`common.${b.k}`, `${b.t} overlaps ${a.k} (${a.t})`);
    }
  }
  return out;
}
