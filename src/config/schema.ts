// The phase config: the original's sections and keys (so an old env.py/config.json carries
// over key for key) plus optional new ones. Values may be strings, as in the original, or
// JSON numbers/booleans; the parsed Config has real types.
import { z } from 'zod';
import { AWS_CIDR_BITS, contains, overlaps, parseCidr, type Cidr } from './cidr.js';
import { isSecretName } from '../ui/redact.js';

// Secrets are marked here, beside their fields, and redacted by that mark wherever output
// goes (secretConfigValues below, used by makeRedactor): a new secret field needs only its
// mark. SECRET: the whole value. SECRET_BY_NAME: a name -> value map whose values are
// secret when their names look secret (*TOKEN*, *SECRET*, *PASSWORD*, *KEY*).
export const SECRET = 'secret';
export const SECRET_BY_NAME = 'secret-by-name';
const secret = <T extends z.ZodTypeAny>(t: T): T => t.describe(SECRET);
const secretByName = <T extends z.ZodTypeAny>(t: T): T => t.describe(SECRET_BY_NAME);

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

/** A number of minutes that may be fractional (tests use seconds' worth), within [min, max]. */
const minutesLike = (what: string, min: number, max: number) =>
  z
    .union([z.number(), z.string()], {
      errorMap: (_issue, ctx) => ({ message: ctx.data === undefined ? `missing; expected ${what}` : `expected ${what}` }),
    })
    .transform((v, ctx) => {
      const n = typeof v === 'number' ? v : /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected ${what} (a number from ${min} to ${max}, fractions allowed), got ${JSON.stringify(v)}` });
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

// AWS takes /16 to /28 for a VPC and for a subnet (Amazon VPC User Guide, "VPC CIDR
// blocks" and "Subnet CIDR blocks": https://docs.aws.amazon.com/vpc/latest/userguide/
// vpc-cidr-blocks.html, subnet-sizing.html); create-vpc/create-subnet refuse any other
// size with InvalidVpc.Range/InvalidSubnet.Range, after the run has changed things.
const inAwsRange = (c: Cidr | undefined) => !c || (c.bits >= AWS_CIDR_BITS.min && c.bits <= AWS_CIDR_BITS.max);
const cidr = (what: string) =>
  str(`${what} as an IPv4 CIDR such as 10.210.0.0/16`)
    .refine((v) => parseCidr(v) !== undefined, {
      message: `not a network CIDR; expected ${what} such as 10.210.0.0/16 (no host bits set)`,
    })
    .refine((v) => inAwsRange(parseCidr(v)), {
      message: `AWS takes /${AWS_CIDR_BITS.min} to /${AWS_CIDR_BITS.max} for a VPC or a subnet; use a prefix length in that range`,
    });

// Exactly one OpenSSH public key, decoded and checked in ./public-key.ts.
export { publicKeyProblem } from './public-key.js';
import { publicKeyProblem } from './public-key.js';

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x1f\x7f-\x9f]/;
/** Refuses control characters (a newline too): they would forge log lines, headers or settings. */
const noControl = <T extends z.ZodString>(t: T) => t.refine((v) => !CONTROL_CHARS.test(v), { message: 'holds a control character (a newline, tab, escape, ...); remove it' });

// EB's limits on the app's environment properties (aws-rules.md R71): the names and values as
// key=value take at most 4,096 bytes in all, a name at most 128 characters. The settings the
// tool sets itself go into the same budget, and a user's key must not override them.
export const EB_ENV_TOTAL_BYTES = 4096;
export const EB_ENV_KEY_MAX = 128;
export const TOOL_ENV_KEYS = ['PHASE', 'VERSION_LABEL', 'DEBUG', 'HOST_NOVA', 'URL_NOVA'] as const;
/** VERSION_LABEL is app-YYMMDD_HHMMSS-<phase>-xxxx: 22 characters beside a phase of at most 16. */
const VERSION_LABEL_MAX = 22 + 16;
/** The shortest secret value the redactor masks in free text (src/ui/redact.ts). */
export const MIN_SECRET_CHARS = 6;

// git clone takes URLs and paths; a value starting with '-' would become a git option.
// https:// and ssh:// (and file:// or a path, for a local repo), or scp-like user@host:path.
const GIT_URL = /^(https:\/\/[^\s]+|ssh:\/\/[^\s]+|file:\/\/\/?[^\s]+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+|\.{0,2}\/[^\s]*)$/;
export function gitUrlProblem(v: string): string | undefined {
  // The value is not repeated: it may carry a token (https://user:token@host/...).
  if (v.startsWith('-')) return 'must not start with "-" (git would take it for an option); expected https://, ssh://, git@host:path or a path';
  if (!GIT_URL.test(v)) return 'expected a git URL: https://host/repo.git, ssh://host/repo.git, git@host:repo.git, or a local path (/path or file:///path)';
  return undefined;
}

// A notification carries the run's news: https, or plain http to loopback only (tests).
export function webhookProblem(v: string): string | undefined {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return 'expected an https URL for the Slack incoming webhook';
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(u.hostname)) return undefined;
  return `expected an https URL for the Slack incoming webhook (plain http only to 127.0.0.1 for tests), not ${u.protocol}//`;
}

// The standard partition only: ARNs (arn:aws:) and EB's domain (elasticbeanstalk.com) differ
// in China and GovCloud, and we have not built for those.
const REGION = /^(?!cn-)[a-z]{2}-[a-z]+-\d$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
// An EB CNAME prefix is 4 to 63 characters (CreateEnvironment's CNAMEPrefix, shape
// DNSCnamePrefix in botocore's elasticbeanstalk/2010-12-01/service-2.json; aws-rules.md [43]). The new
// environment gets `<CNAME>-<unix timestamp>` on a daily deploy: 11 more characters.
const CNAME_MIN = 4;
const CNAME_MAX = 63 - 11;

/** A TCP port a server can bind: 1 to 65535 (0 would mean "any free port", which nobody could find). */
const portIn = (text: string): boolean => {
  const m = /:(\d+)\/?$/.exec(text);
  const port = m ? Number(m[1]) : NaN;
  return Number.isInteger(port) && port >= 1 && port <= 65535;
};

const loopbackUrl = z
  .string()
  .url('expected a URL such as http://127.0.0.1:4566')
  .refine((v) => /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+\/?$/.test(v), {
    message: 'the sandbox endpoint must be http://127.0.0.1:<port> (the sandbox binds to loopback only)',
  })
  .refine(portIn, { message: 'the port must be 1 to 65535' });

export const configSchema = z
  .object({
    aws: z.object(
      {
        AWS_AVAILABILITY_ZONE_1: str('an availability zone such as ap-northeast-2a'),
        AWS_AVAILABILITY_ZONE_2: str('an availability zone such as ap-northeast-2c'),
        AWS_DEFAULT_REGION: str('a region such as ap-northeast-2').refine((v) => REGION.test(v), {
          message: 'not a region of the standard AWS partition; expected e.g. ap-northeast-2 (China and GovCloud are not supported)',
        }),
        AWS_ACCESS_KEY_ID: secret(z.string().optional()),
        AWS_SECRET_ACCESS_KEY: secret(z.string().optional()),
        // The aws CLI to run (a name on PATH or a path, relative to this file); JOHANNA_AWS_CLI wins.
        CLI: str('the aws CLI to run, e.g. /usr/local/bin/aws').optional(),
      },
      { required_error: 'missing section; expected {"AWS_DEFAULT_REGION": ..., "AWS_AVAILABILITY_ZONE_1": ..., "AWS_AVAILABILITY_ZONE_2": ...}' },
    ),
    common: z.object(
      {
        AWS_KEY_PAIR_MATERIAL: str('a public key such as "ssh-rsa AAAA..."').superRefine((v, ctx) => {
          const problem = publicKeyProblem(v);
          if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
        }),
        // EC2: "up to 255 ASCII characters" (ImportKeyPair KeyName; aws-rules.md R72).
        AWS_KEY_PAIR_NAME: str('a key pair name')
          .refine((v) => v.length <= 255, { message: 'at most 255 characters' })
          .refine((v) => /^[\x20-\x7e]*$/.test(v), { message: 'EC2 takes printable ASCII characters only (no accents, no control characters, no newline)' }),
        AWS_SUBNET_EB_PRIVATE_1: cidr('a subnet of AWS_VPC_EB'),
        AWS_SUBNET_EB_PRIVATE_2: cidr('a subnet of AWS_VPC_EB'),
        AWS_SUBNET_EB_PUBLIC_1: cidr('a subnet of AWS_VPC_EB'),
        AWS_SUBNET_EB_PUBLIC_2: cidr('a subnet of AWS_VPC_EB'),
        AWS_VPC_EB: cidr('the VPC CIDR'),
        DEBUG: boolLike.default(false),
        // A DNS name is at most 253 characters; it becomes an EB setting (R71).
        HOST_NOVA: noControl(str('the host name Nova is served at'))
          .refine((v) => v.length <= 253, { message: 'at most 253 characters (a DNS name)' })
          .refine((v) => !/\s/.test(v), { message: 'expected a host name without spaces, such as dv-nova.example.com' }),
        PHASE: str('the phase name, e.g. dv').refine((v) => /^[a-z][a-z0-9-]{0,15}$/.test(v), {
          message: 'expected a short lower-case name such as dv, qa or op (letters, digits, -; at most 16)',
        }),
        URL_NOVA: noControl(str('the URL Nova is served at').url('expected a URL such as http://dv-nova.ap-northeast-2.elasticbeanstalk.com'))
          .refine((v) => v.length <= 256, { message: 'at most 256 characters (an EB environment property value)' }),
      },
      { required_error: 'missing section; expected the phase\'s "common" settings (PHASE, AWS_VPC_EB, subnets, key pair, ...)' },
    ),
    elasticbeanstalk: z.object(
      {
        // 1 to 100 characters (CreateApplication); EB refuses '/' in a name (R73).
        APPLICATION_NAME: noControl(str('the Elastic Beanstalk application name'))
          .refine((v) => v.length <= 100, { message: 'at most 100 characters' })
          .refine((v) => !v.includes('/'), { message: "must not contain '/' (Elastic Beanstalk refuses it); use e.g. dv-nova" }),
      },
      { required_error: 'missing section; expected {"APPLICATION_NAME": ...}' },
    ),
    nova: z.object(
      {
        AWS_ASG_MAX_VALUE: intLike('the Auto Scaling group maximum', 1, 10000),
        AWS_ASG_MIN_VALUE: intLike('the Auto Scaling group minimum', 1, 10000),
        CNAME: str('a CNAME prefix such as dv-nova').refine((v) => DNS_LABEL.test(v) && v.length >= CNAME_MIN && v.length <= CNAME_MAX, {
          message: `not a valid DNS label: use a-z, 0-9 and -, not starting or ending with -, at least ${CNAME_MIN} and at most ${CNAME_MAX} characters (EB takes 4 to 63; a daily deploy appends -<timestamp>)`,
        }),
        INSTANCE_TYPE: str('an EC2 instance type').regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, 'expected an EC2 instance type such as t2.nano').default('t2.nano'),
        // SolutionStackName is at most 100 characters (CreateEnvironment, botocore model).
        PLATFORM: noControl(str('a solution stack name or a part of one'))
          .refine((v) => v.length <= 100, { message: 'at most 100 characters (a solution stack name)' })
          .optional(),
        // An EB option value and a request path: printable, no spaces, at most 256 (R71).
        HEALTH_CHECK_URL: noControl(str('a path such as /echo/').regex(/^\/\S*$/, 'expected a path starting with /, such as /echo/'))
          .refine((v) => v.length <= 256, { message: 'at most 256 characters' })
          .default('/echo/'),
        DEPLOY_TIMEOUT_MINUTES: intLike('minutes', 1, 24 * 60).default(30),
        OLD_ENVIRONMENT_GRACE_MINUTES: intLike('minutes', 0, 7 * 24 * 60).default(50),
        // The cleanup's traffic check: no request on the old environment's load balancer for
        // this long. More than 0 (an empty window proves nothing); at most a day, which
        // CloudWatch keeps at 60 s resolution for 15 days.
        DRAIN_QUIET_MINUTES: minutesLike('minutes of no traffic before an old environment is removed', 0.01, 24 * 60).default(5),
        // A public load balancer is never quiet: scanners and bots reach it (issue 19 item 4).
        // At or below this many requests a minute (averaged over the quiet window) the traffic
        // counts as background, and the environment as drained. 0: any request counts.
        DRAIN_BACKGROUND_PER_MINUTE: minutesLike('requests a minute (0 or more)', 0, 10_000).default(2),
        // The ceiling: this long out of service, an old environment goes whatever its traffic
        // says, with a warning giving the figures, so none is kept at full cost for ever.
        DRAIN_CEILING_MINUTES: minutesLike('minutes out of service after which an old environment goes anyway', 0.01, 30 * 24 * 60).default(24 * 60),
        // Not secret as a whole (it is shown), but its userinfo is, like any URL's.
        GIT_URL: str('a git URL')
          .superRefine((v, ctx) => {
            const problem = gitUrlProblem(v);
            if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
          })
          .optional(),
        GIT_BRANCH: str('a git branch').regex(/^[^-\s][^\s]*$/, 'expected a branch or tag name (no spaces, not starting with -)').optional(),
        // May carry a token (curl -H "Authorization: ..."), so never shown.
        SMOKE_TEST_COMMAND: secret(str('a shell command').optional()),
        // The smoke test gets no AWS_* variables unless this is true (src/deploy/smoke-test.ts).
        SMOKE_TEST_AWS_CREDENTIALS: boolLike.default(false),
        KEEP_FAILED_ENVIRONMENT: boolLike.default(false),
        // The bake after a swap to a new version (issue 21; README "The bake"): minutes of
        // watching the new environment's load balancer under real traffic, 0 = off. 10 on
        // AWS: ALB metrics come a minute at a time and a minute or two late, so fewer minutes
        // judge too little; it must end well inside the old environment's grace period (50),
        // while the old one is alive and warm to swap back to.
        BAKE_MINUTES: intLike('minutes', 0, 24 * 60).default(10),
        // A minute is bad when its 5xx share (HTTPCode_Target_5XX_Count + HTTPCode_ELB_5XX_Count
        // over RequestCount) is above this, its TargetResponseTime p99 above BAKE_MAX_P99_MS,
        // EB's enhanced health Degraded or Severe, or one of BAKE_ALARMS went into ALARM.
        BAKE_MAX_5XX_PERCENT: minutesLike('a percentage such as 1', 0, 100).default(1),
        BAKE_MAX_P99_MS: intLike('milliseconds', 1, 600_000).default(500),
        // This many bad minutes swap back (Argo's failureLimit, Flagger's threshold): one
        // noisy minute does not.
        BAKE_FAILURE_LIMIT: intLike('bad minutes', 1, 1000).default(2),
        // A minute with fewer requests than this is not judged on its 5xx share or p99; with
        // fewer than half the minutes judged, the verdict is inconclusive.
        BAKE_MIN_REQUESTS: intLike('requests a minute', 1, 1_000_000).default(20),
        // CloudWatch alarm names (the operator's own) that fail a minute when they go to ALARM.
        BAKE_ALARMS: z.array(str('a CloudWatch alarm name').refine((v) => v.length <= 255, { message: 'at most 255 characters' })).max(100).default([]),
        // Extra environment settings for the app (name -> value), beside PHASE, VERSION_LABEL, DEBUG, HOST_NOVA, URL_NOVA.
        // A value whose name looks secret (API_TOKEN, DB_PASSWORD, ...) is never shown.
        ENVIRONMENT: secretByName(
          z
            .record(
              z
                .string()
                .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected environment variable names (letters, digits, _)')
                .refine((k) => k.length <= EB_ENV_KEY_MAX, { message: `at most ${EB_ENV_KEY_MAX} characters (Elastic Beanstalk's limit for a property name)` })
                .refine((k) => !(TOOL_ENV_KEYS as readonly string[]).includes(k), {
                  message: `Johanna sets ${TOOL_ENV_KEYS.join(', ')} itself; remove this key (or rename it)`,
                }),
              z
                .union([z.string(), z.number(), z.boolean()])
                .transform(String)
                // The value is never repeated: its name may say it is a secret.
                .refine((v) => !CONTROL_CHARS.test(v), { message: 'the value holds a control character (a newline, tab, ...); EB settings are one line' }),
            )
            // The redactor masks free text by value only from 6 characters on (shorter ones
            // would mask ordinary words), so a shorter secret could be printed: refused.
            .superRefine((env, ctx) => {
              for (const [k, v] of Object.entries(env)) {
                if (isSecretName(k) && v.length > 0 && v.length < MIN_SECRET_CHARS) {
                  ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: `a secret (its name says so) of fewer than ${MIN_SECRET_CHARS} characters: Johanna can mask secrets in output only from ${MIN_SECRET_CHARS} characters on; use a longer one` });
                }
              }
            })
            .default({}),
        ),
      },
      { required_error: 'missing section; expected {"CNAME": ..., "AWS_ASG_MIN_VALUE": ..., "AWS_ASG_MAX_VALUE": ...}' },
    ),
    notify: z
      .object({
        // Whoever has it can post to the channel.
        SLACK_WEBHOOK_URL: secret(
          z
            .string()
            .superRefine((v, ctx) => {
              const problem = webhookProblem(v);
              if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
            })
            .optional(),
        ),
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
          .regex(/^(127\.\d+\.\d+\.\d+|localhost):\d{1,5}$/, 'expected 127.0.0.1:<port> (the router binds to loopback only)')
          .refine(portIn, { message: 'the port must be 1 to 65535' }),
        /** The caller's IAM policy files (relative to this file), or ["admin"]; unset: the documented set (issue 18). */
        POLICIES: z.array(z.string().min(1, 'expected a policy file path, or "admin"')).optional(),
      })
      .optional(),
  });

export type Config = z.output<typeof configSchema>;

/** The marks a field carries through its wrappers (optional, default, refinements). */
function marks(t: z.ZodTypeAny | undefined): Set<string> {
  const out = new Set<string>();
  for (let cur = t; cur; cur = cur._def?.innerType ?? cur._def?.schema) if (cur.description) out.add(cur.description);
  return out;
}

function objectOf(t: z.ZodTypeAny): z.ZodObject<z.ZodRawShape> | undefined {
  let cur: z.ZodTypeAny | undefined = t;
  while (cur && !(cur instanceof z.ZodObject)) cur = cur._def?.innerType ?? cur._def?.schema;
  return cur as z.ZodObject<z.ZodRawShape> | undefined;
}

/** "section.KEY" of every field the schema marks SECRET or SECRET_BY_NAME. */
export function secretPaths(): { path: string; mark: string }[] {
  const out: { path: string; mark: string }[] = [];
  for (const [section, sec] of Object.entries(configSchema.shape as Record<string, z.ZodTypeAny>)) {
    const obj = objectOf(sec);
    if (!obj) continue;
    for (const [key, field] of Object.entries(obj.shape as Record<string, z.ZodTypeAny>)) {
      const m = marks(field);
      if (m.has(SECRET)) out.push({ path: `${section}.${key}`, mark: SECRET });
      else if (m.has(SECRET_BY_NAME)) out.push({ path: `${section}.${key}`, mark: SECRET_BY_NAME });
    }
  }
  return out;
}

/** The secret values of a parsed config, by the schema's marks: what makeRedactor registers. */
export function secretConfigValues(config: Config): string[] {
  const out: string[] = [];
  for (const { path, mark } of secretPaths()) {
    const [section, key] = path.split('.');
    const v = (config as unknown as Record<string, Record<string, unknown> | undefined>)[section]?.[key];
    if (mark === SECRET && typeof v === 'string') out.push(v);
    if (mark === SECRET_BY_NAME && v && typeof v === 'object') {
      for (const [name, value] of Object.entries(v as Record<string, unknown>)) if (isSecretName(name) && typeof value === 'string') out.push(value);
    }
  }
  return out;
}

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

  const env = get(raw, 'nova', 'ENVIRONMENT');
  if (env && typeof env === 'object' && !Array.isArray(env)) {
    const bytes = (k: string, v: string) => Buffer.byteLength(`${k}=${v}`);
    const ours =
      bytes('PHASE', text(get(raw, 'common', 'PHASE')) ?? '') +
      bytes('VERSION_LABEL', 'x'.repeat(VERSION_LABEL_MAX)) +
      bytes('DEBUG', 'False') +
      bytes('HOST_NOVA', text(get(raw, 'common', 'HOST_NOVA')) ?? '') +
      bytes('URL_NOVA', text(get(raw, 'common', 'URL_NOVA')) ?? '');
    const theirs = Object.entries(env as Record<string, unknown>).reduce((n, [k, v]) => n + bytes(k, String(v)), 0);
    if (ours + theirs > EB_ENV_TOTAL_BYTES) {
      at(
        'nova.ENVIRONMENT',
        `its settings take ${theirs} bytes as key=value, and with the ${ours} of the ones Johanna sets (${TOOL_ENV_KEYS.join(', ')}) that is over Elastic Beanstalk's ${EB_ENV_TOTAL_BYTES} bytes for all environment properties; shorten or remove some`,
      );
    }
  }

  const vpcText = text(get(raw, 'common', 'AWS_VPC_EB'));
  const vpc = vpcText ? parseCidr(vpcText) : undefined;
  const keys = ['AWS_SUBNET_EB_PRIVATE_1', 'AWS_SUBNET_EB_PRIVATE_2', 'AWS_SUBNET_EB_PUBLIC_1', 'AWS_SUBNET_EB_PUBLIC_2'] as const;
  const subnets = keys.map((k) => {
    const t = text(get(raw, 'common', k));
    return { k, t, c: t ? parseCidr(t) : undefined };
  });
  if (vpc) {
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
