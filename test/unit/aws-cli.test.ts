// The one aws/eb runner, with an injected `exec` that records every call and answers
// from a script (and throws on a call nobody expected), a fake sleep, and a Logger that
// writes into strings.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AwsCli, buildAwsEnv, clockOffsetOf, execaExec, CLI_MAX_ATTEMPTS, isMutating, parseAwsCliVersion, quoteForDisplay, RunLog, type ExecResult } from '../../src/aws/cli.js';
import { parseConfig } from '../../src/config/load.js';
import { awsCliBin, buildCtx } from '../../src/context.js';
import { AwsCliError, InterruptedError, MissingToolError, UsageError } from '../../src/errors.js';
import sandboxJson from '../../env.sandbox.json' with { type: 'json' };
import { Logger } from '../../src/ui/log.js';
import { MASK, Redactor } from '../../src/ui/redact.js';
import { awsError, ok, recordingExec, Sink, type Call } from './fakes.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'aws-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';




const fail = (code: string, message = 'boom', exitCode = 254): ExecResult => awsError(code, 'Operation', message, exitCode);

const V1 = 'aws-cli/1.45.11 Python/3.11.7 Linux/6.18.44 botocore/1.43.11';
const V2 = 'aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44 source/x86_64.debian.12 prompt/off';
const ENDPOINT = 'http://127.0.0.1:4566';

interface SetupOptions {
  dryRun?: boolean;
  verbose?: boolean;
  runLog?: RunLog;
  secrets?: string[];
  /** The CLI's `--version` line, known up front (default v1); `null`: the runner asks the exec for it. */
  version?: string | null;
  bin?: string;
  endpoint?: string;
  env?: NodeJS.ProcessEnv;
}

function setup(script: Parameters<typeof recordingExec>[0], o: SetupOptions = {}) {
  const out = new Sink();
  const err = new Sink();
  const redactor = new Redactor(o.secrets ?? [SECRET]);
  const log = new Logger({ verbose: o.verbose ?? false, json: false, color: false, redactor, stdout: out, stderr: err });
  const exec = recordingExec(script);
  const sleeps: number[] = [];
  const aws = new AwsCli({
    env: o.env ?? { AWS_DEFAULT_REGION: 'ap-northeast-2' },
    log,
    redactor,
    dryRun: o.dryRun,
    runLog: o.runLog,
    exec,
    sleep: async (ms) => void sleeps.push(ms),
    bin: o.bin,
    endpoint: o.endpoint,
    version: o.version === null ? undefined : parseAwsCliVersion(o.version ?? V1),
  });
  return { aws, exec, out, err, sleeps };
}

describe('AwsCli.aws', () => {
  it('appends --output json, passes the env, and parses the JSON answer', async () => {
    const { aws, exec } = setup([ok('{"Vpcs":[{"VpcId":"vpc-1"}]}\n')]);
    await expect(aws.aws(['ec2', 'describe-vpcs', '--filters', 'Name=tag:phase,Values=dv'])).resolves.toEqual({ Vpcs: [{ VpcId: 'vpc-1' }] });
    expect(exec.calls).toHaveLength(1);
    expect(exec.calls[0].file).toBe('aws');
    expect(exec.calls[0].args).toEqual(['ec2', 'describe-vpcs', '--filters', 'Name=tag:phase,Values=dv', '--output', 'json']);
    expect(exec.calls[0].opts.env).toEqual({ AWS_DEFAULT_REGION: 'ap-northeast-2' });
  });

  it('an empty answer (e.g. a delete) is {}', async () => {
    const { aws } = setup([ok(''), ok('  \n')]);
    await expect(aws.aws(['ec2', 'delete-vpc', '--vpc-id', 'vpc-1'])).resolves.toEqual({});
    await expect(aws.aws(['ec2', 'delete-subnet', '--subnet-id', 'subnet-1'])).resolves.toEqual({});
  });

  it('a non-JSON answer comes back as text', async () => {
    const { aws } = setup([ok('vpc-1\tavailable\n')]);
    await expect(aws.aws(['ec2', 'describe-vpcs'])).resolves.toBe('vpc-1\tavailable');
  });

  it('a non-zero exit is an AwsCliError with the args, the exit code, stderr and the AWS error code', async () => {
    const { aws, exec } = setup([fail('InvalidVpcID.NotFound', "The vpc ID 'vpc-nope' does not exist", 254)]);
    const err = await aws.aws(['ec2', 'describe-vpcs', '--vpc-ids', 'vpc-nope']).catch((e) => e);
    expect(err).toBeInstanceOf(AwsCliError);
    expect(err.args).toEqual(['aws', 'ec2', 'describe-vpcs', '--vpc-ids', 'vpc-nope']);
    expect(err.cliExitCode).toBe(254);
    expect(err.exitCode).toBe(1);
    expect(err.code).toBe('AWS_CLI');
    expect(err.stderr).toContain('InvalidVpcID.NotFound');
    expect(err.awsCode).toBe('InvalidVpcID.NotFound');
    expect(err.message).toContain("(exit 254): An error occurred (InvalidVpcID.NotFound)");
    expect(exec.calls).toHaveLength(1); // not retried
  });

  it('the error carries no secret, in its args or its stderr', async () => {
    const { aws } = setup([{ exitCode: 255, stdout: '', stderr: `bad value ${SECRET}` }]);
    const err = (await aws.aws(['ssm', 'put-parameter', '--value', SECRET]).catch((e) => e)) as AwsCliError;
    expect(JSON.stringify({ m: err.message, a: err.args, s: err.stderr })).not.toContain(SECRET);
    expect(err.args).toContain(MASK);
    expect(err.awsCode).toBeUndefined();
  });

  // Issue 12, "retries stack": the runner retried throttling up to 6 times on top of the
  // aws CLI's own 5 attempts (30 requests a call). Throttling is the CLI's alone now.
  it('a throttled call runs the aws CLI once: its own standard-mode retries are the only ones', async () => {
    const throttled = fail('Throttling', 'Rate exceeded');
    throttled.stderr = '\nAn error occurred (Throttling) when calling the DescribeSubnets operation (reached max retries: 7): Rate exceeded\n';
    const { aws, exec, sleeps } = setup([throttled]);
    const err = (await aws.aws(['ec2', 'describe-subnets']).catch((e) => e)) as AwsCliError;
    expect(err).toBeInstanceOf(AwsCliError);
    expect(err.awsCode).toBe('Throttling');
    expect(exec.calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(err.hint).toMatch(/gave up after 8 attempts \(AWS_MAX_ATTEMPTS=\?/);
    expect(aws.records[0]).toMatchObject({ exitCode: 254, cliAttempts: 8 });
  });

  it('the budget: AWS_MAX_ATTEMPTS=8 in standard mode for the CLI, and no runner retry for any throttling code', async () => {
    expect(CLI_MAX_ATTEMPTS).toBe(8);
    expect(buildAwsEnv({ base: {}, region: 'us-east-1' })).toMatchObject({ AWS_RETRY_MODE: 'standard', AWS_MAX_ATTEMPTS: '8' });
    for (const code of ['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'SlowDown', 'TooManyRequestsException', 'ProvisionedThroughputExceededException']) {
      const { aws, exec } = setup([fail(code)]);
      await expect(aws.aws(['ec2', 'describe-subnets'])).rejects.toBeInstanceOf(AwsCliError);
      expect(exec.calls, code).toHaveLength(1);
    }
    const { aws, exec } = setup([{ exitCode: 255, stdout: '', stderr: 'Rate exceeded' }]);
    await expect(aws.aws(['elasticbeanstalk', 'describe-environments'])).rejects.toBeInstanceOf(AwsCliError);
    expect(exec.calls).toHaveLength(1);
  });

  it('a retryOn code is retried up to `attempts` runs, each recorded with its attempt and the wait before it', async () => {
    const { aws, exec, sleeps } = setup([fail('InvalidVpcID.NotFound'), fail('InvalidVpcID.NotFound'), fail('InvalidVpcID.NotFound', 'last')]);
    const err = await aws.aws(['ec2', 'create-subnet', '--vpc-id', 'vpc-1'], { retryOn: ['InvalidVpcID.NotFound'], attempts: 3 }).catch((e) => e);
    expect(err.awsCode).toBe('InvalidVpcID.NotFound');
    expect(exec.calls).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(125);
    expect(sleeps[0]).toBeLessThanOrEqual(250);
    expect(sleeps[1]).toBeGreaterThanOrEqual(250);
    expect(sleeps[1]).toBeLessThanOrEqual(500);
    expect(aws.records.map((r) => [r.attempt, r.waitMs])).toEqual([[undefined, undefined], [2, sleeps[0]], [3, sleeps[1]]]);
  });

  it('Ctrl-C during a retry wait ends the wait at once and the call with InterruptedError, sending nothing more', async () => {
    const ac = new AbortController();
    const exec = recordingExec([
      () => {
        setTimeout(() => ac.abort(), 50);
        return fail('InvalidVpcID.NotFound');
      },
    ]);
    const redactor = new Redactor([]);
    const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: new Sink(), stderr: new Sink() });
    // The real sleep (no injected one): 6 attempts would wait up to 8 s each.
    const aws = new AwsCli({ env: {}, log, redactor, exec, signal: ac.signal, version: parseAwsCliVersion(V1) });
    const started = Date.now();
    const err = await aws.aws(['ec2', 'create-subnet', '--vpc-id', 'vpc-1'], { retryOn: ['InvalidVpcID.NotFound'], attempts: 6 }).catch((e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(exec.calls).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('the default budget for a retryOn code is 6 runs', async () => {
    const { aws, exec } = setup(Array.from({ length: 6 }, () => fail('NoSuchEntity')));
    await expect(aws.aws(['iam', 'get-role', '--role-name', 'r'], { retryOn: ['NoSuchEntity'] })).rejects.toBeInstanceOf(AwsCliError);
    expect(exec.calls).toHaveLength(6);
  });

  it('retries the codes given in retryOn, and only those', async () => {
    const { aws, exec } = setup([fail('InvalidVpcID.NotFound'), ok('{"Subnet":{"SubnetId":"subnet-1"}}')]);
    await expect(aws.aws(['ec2', 'create-subnet', '--vpc-id', 'vpc-1'], { retryOn: ['InvalidVpcID.NotFound'] })).resolves.toEqual({ Subnet: { SubnetId: 'subnet-1' } });
    expect(exec.calls).toHaveLength(2);

    const other = setup([fail('InvalidParameterValue')]);
    const err = await other.aws.aws(['ec2', 'create-subnet', '--vpc-id', 'vpc-1'], { retryOn: ['InvalidVpcID.NotFound'] }).catch((e) => e);
    expect(err.awsCode).toBe('InvalidParameterValue');
    expect(other.exec.calls).toHaveLength(1);
    expect(other.sleeps).toEqual([]);
  });

  it('a failure to start (aws not on PATH) propagates, and is recorded', async () => {
    const { aws } = setup([
      () => {
        throw new MissingToolError('the aws CLI is not on PATH');
      },
    ]);
    await expect(aws.aws(['ec2', 'describe-vpcs'])).rejects.toBeInstanceOf(MissingToolError);
    expect(aws.records).toHaveLength(1);
    expect(aws.records[0]).toMatchObject({ exitCode: null, error: 'the aws CLI is not on PATH' });
  });

  it('-v prints each command line, redacted, with its duration and exit code', async () => {
    const { aws, err } = setup([ok('{}'), fail('AccessDenied', `no ${SECRET}`)], { verbose: true });
    await aws.aws(['ssm', 'put-parameter', '--name', 'x y', '--value', SECRET]);
    await aws.aws(['ec2', 'describe-vpcs']).catch(() => undefined);
    expect(err.text).toMatch(/\$ aws ssm put-parameter --name 'x y' --value '\*\*\*' --output json {2}\(\d+\.\d\ds, exit 0\)/);
    expect(err.text).toMatch(/\$ aws ec2 describe-vpcs --output json {2}\(\d+\.\d\ds, exit 254\)/);
    expect(err.text).toContain('AccessDenied');
    expect(err.text).not.toContain(SECRET);
  });

  it('without -v prints nothing', async () => {
    const { aws, err, out } = setup([ok('{}')]);
    await aws.aws(['ec2', 'describe-vpcs']);
    expect(err.text + out.text).toBe('');
  });
});

describe('--dry-run', () => {
  it('a mutating call is not executed: printed as `! aws ...` with secrets redacted, answering {}', async () => {
    const { aws, exec, out } = setup([], { dryRun: true });
    await expect(aws.aws(['ec2', 'create-vpc', '--cidr-block', '10.210.0.0/16'])).resolves.toEqual({});
    await expect(aws.aws(['ssm', 'put-parameter', '--name', 'webhook', '--value', SECRET, '--tags', 'Key=a b,Value=c'])).resolves.toEqual({});
    expect(exec.calls).toEqual([]);
    expect(out.text).toBe(`! aws ec2 create-vpc --cidr-block 10.210.0.0/16\n! aws ssm put-parameter --name webhook --value '***' --tags 'Key=a b,Value=c'\n`);
    expect(out.text).not.toContain(SECRET);
    expect(aws.records).toHaveLength(2);
    expect(aws.records[1]).toMatchObject({ dryRun: true, mutating: true, exitCode: null, ms: 0 });
    expect(aws.records[1].args).toContain(MASK);
  });

  it('a read-only call still runs', async () => {
    const { aws, exec, out } = setup([ok('{"Vpcs":[]}')], { dryRun: true });
    await expect(aws.aws(['ec2', 'describe-vpcs'])).resolves.toEqual({ Vpcs: [] });
    expect(exec.calls).toHaveLength(1);
    expect(out.text).toBe('');
  });
});

describe('isMutating', () => {
  const table: [string, boolean][] = [
    ['ec2 describe-vpcs', false],
    ['ec2 describe-vpcs --filters Name=tag:a,Values=b', false],
    ['elasticbeanstalk describe-environments --application-name dv', false],
    ['iam list-roles', false],
    ['iam get-role --role-name r', false],
    ['dynamodb get-item --table-name t', false],
    ['ec2 wait vpc-available --vpc-ids vpc-1', false],
    ['dynamodb wait table-exists --table-name t', false],
    ['elasticbeanstalk check-dns-availability --cname-prefix dv-nova', false],
    ['elasticbeanstalk list-available-solution-stacks', false],
    ['sts get-caller-identity', false],
    ['s3 ls', false],
    ['s3 ls s3://bucket/prefix/', false],
    ['s3api head-object --bucket b --key k', false],
    ['dynamodb query --table-name t', false],
    ['dynamodb scan --table-name t', false],
    ['elasticbeanstalk retrieve-environment-info --environment-name a --info-type tail', false],
    ['elasticbeanstalk request-environment-info --environment-name a --info-type tail', true],
    ['ec2 create-vpc --cidr-block 10.210.0.0/16', true],
    ['ec2 delete-vpc --vpc-id vpc-1', true],
    ['ssm put-parameter --name n', true],
    ['elasticbeanstalk swap-environment-cnames --source-environment-name a', true],
    ['elasticbeanstalk terminate-environment --environment-name a', true],
    ['elasticbeanstalk create-application-version --application-name dv', true],
    ['elasticbeanstalk update-environment --environment-name a', true],
    ['ec2 run-instances', true],
    ['ec2 authorize-security-group-ingress', true],
    ['ec2 import-key-pair --key-name dv', true],
    ['iam attach-role-policy', true],
    ['dynamodb put-item --table-name t', true],
    ['s3 cp a s3://b/a', true],
    ['s3 rm s3://b/a', true],
    ['s3 mb s3://b', true],
    ['s3 sync . s3://b', true],
  ];
  it.each(table)('aws %s -> mutating %s', (cmd, expected) => {
    expect(isMutating(cmd.split(' '))).toBe(expected);
  });

  it('an unusual shape errs on the side of mutating (so --dry-run never runs it)', () => {
    expect(isMutating(['ec2', '--region', 'us-east-1', 'describe-vpcs'])).toBe(true); // an option value read as the operation
    expect(isMutating(['ec2', 'describe-vpcs', '--region', 'us-east-1'])).toBe(false);
    expect(isMutating([])).toBe(true);
    expect(isMutating(['ec2'])).toBe(true);
  });
});

describe('RunLog', () => {
  it('gets one JSON line per call, with redacted args and the exit code', async () => {
    const dir = path.join(tmp, 'logs', 'dv');
    const runLog = new RunLog(dir, 'create_vpc', new Date('2026-11-27T04:31:00.123Z'));
    expect(path.basename(runLog.file)).toBe(`20261127T043100Z-create_vpc-${process.pid}.jsonl`);
    const { aws } = setup([ok('{}'), fail('InvalidVpcID.NotFound'), ok('{}'), fail('AccessDenied')], { runLog });
    await aws.aws(['ssm', 'put-parameter', '--value', SECRET], { purpose: 'lock' });
    await aws.aws(['ec2', 'describe-vpcs'], { retryOn: ['InvalidVpcID.NotFound'] });
    await aws.aws(['ec2', 'delete-vpc', '--vpc-id', 'vpc-1']).catch(() => undefined);
    expect(readdirSync(dir)).toEqual([path.basename(runLog.file)]);
    const text = readFileSync(runLog.file, 'utf8');
    expect(text).not.toContain(SECRET);
    const [cli, ...lines] = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    // First, once: which aws CLI ran the calls, and its retry budget.
    expect(cli).toMatchObject({ cli: { bin: 'aws', version: V1, major: 1 } });
    expect(cli).not.toHaveProperty('tool');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatchObject({ tool: 'aws', args: ['ssm', 'put-parameter', '--value', MASK, '--output', 'json'], exitCode: 0, mutating: true, purpose: 'lock' });
    expect(lines[1]).toMatchObject({ args: ['ec2', 'describe-vpcs', '--output', 'json'], exitCode: 254, mutating: false });
    expect(lines[2]).toMatchObject({ exitCode: 0, attempt: 2 });
    expect(lines[2].waitMs).toBeGreaterThan(0);
    expect(lines[3]).toMatchObject({ args: ['ec2', 'delete-vpc', '--vpc-id', 'vpc-1', '--output', 'json'], exitCode: 254, mutating: true });
    for (const l of lines) {
      expect(typeof l.ms).toBe('number');
      expect(new Date(l.ts).toISOString()).toBe(l.ts);
    }
    expect(aws.records).toEqual(lines);
  });

  it('a dry run is logged too, marked dryRun, exit code null', async () => {
    const runLog = new RunLog(path.join(tmp, 'logs', 'dry'), 'create_vpc');
    const { aws } = setup([], { runLog, dryRun: true });
    await aws.aws(['ec2', 'create-vpc', '--cidr-block', '10.0.0.0/16']);
    const [line] = readFileSync(runLog.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(line).toMatchObject({ args: ['ec2', 'create-vpc', '--cidr-block', '10.0.0.0/16'], exitCode: null, dryRun: true });
  });
});

describe('passthrough', () => {
  it('under --dry-run prints a mutating aws call instead of running it; a read-only one and eb still run', async () => {
    const { aws, exec, out } = setup([ok('{}'), ok('* nova-1\n')], { dryRun: true });
    await expect(aws.passthrough('aws', ['ec2', 'create-vpc', '--cidr-block', '10.9.0.0/16'])).resolves.toEqual({ exitCode: 0, stdout: '', stderr: '' });
    expect(out.text).toContain('! aws ec2 create-vpc --cidr-block 10.9.0.0/16');
    await aws.passthrough('aws', ['ec2', 'describe-vpcs']);
    await aws.passthrough('eb', ['list']);
    expect(exec.calls.map((c) => `${c.file} ${c.args[0]}`)).toEqual(['aws ec2', 'eb list']);
  });

  it('runs the tool with the args as given (no --output), in the cwd, and returns its result', async () => {
    const { aws, exec } = setup([{ exitCode: 3, stdout: '* nova-1\n', stderr: '' }]);
    await expect(aws.passthrough('eb', ['list'], { cwd: '/tmp/nova', stream: true })).resolves.toEqual({ exitCode: 3, stdout: '* nova-1\n', stderr: '' });
    expect(exec.calls[0]).toMatchObject({ file: 'eb', args: ['list'], opts: { cwd: '/tmp/nova' } });
    expect(typeof exec.calls[0].opts.onOutput).toBe('function');
  });

  it('streams the output it is given through the redactor', async () => {
    const { aws, exec, out, err } = setup([
      (c) => {
        c.opts.onOutput!(`Credential=AKIAABCDEFGHIJKLMNOP/x ${SECRET}\n`, 'out');
        c.opts.onOutput!(`secret ${SECRET}\n`, 'err');
        return { exitCode: 0, stdout: '', stderr: '' };
      },
    ]);
    await aws.passthrough('eb', ['--debug', 'list'], { cwd: '/tmp/nova', stream: true });
    expect(exec.calls).toHaveLength(1);
    expect(out.text).toBe(`Credential=${MASK}/x ${MASK}\n`);
    expect(err.text).toBe(`secret ${MASK}\n`);
  });
});

describe('quoteForDisplay', () => {
  it('leaves plain words alone and single-quotes the rest', () => {
    expect(quoteForDisplay('Name=tag:phase,Values=dv')).toBe('Name=tag:phase,Values=dv');
    expect(quoteForDisplay('s3://bucket/key@1')).toBe('s3://bucket/key@1');
    expect(quoteForDisplay('a b')).toBe("'a b'");
    expect(quoteForDisplay('{"a":1}')).toBe(`'{"a":1}'`);
    expect(quoteForDisplay("it's")).toBe(`'it'\\''s'`);
    expect(quoteForDisplay('')).toBe("''");
  });
});

describe('buildAwsEnv', () => {
  const base = { PATH: '/usr/bin', HOME: '/root', AWS_PROFILE: 'prod', AWS_SESSION_TOKEN: 'tok', AWS_ACCESS_KEY_ID: 'AKIAENVENVENVENVENV1', AWS_SECRET_ACCESS_KEY: 'env-secret' };

  it('sets the region, no pager and standard retries, and keeps the rest of the environment', () => {
    const env = buildAwsEnv({ base, region: 'ap-northeast-2' });
    expect(env).toMatchObject({ ...base, AWS_DEFAULT_REGION: 'ap-northeast-2', AWS_REGION: 'ap-northeast-2', AWS_PAGER: '', AWS_RETRY_MODE: 'standard', AWS_MAX_ATTEMPTS: '8' });
    expect(env.AWS_ENDPOINT_URL).toBeUndefined();
    expect(base).not.toHaveProperty('AWS_REGION'); // the input is not changed
  });

  it('keeps the operator\'s own retry settings', () => {
    expect(buildAwsEnv({ base: { AWS_RETRY_MODE: 'adaptive', AWS_MAX_ATTEMPTS: '9' }, region: 'us-east-1' })).toMatchObject({ AWS_RETRY_MODE: 'adaptive', AWS_MAX_ATTEMPTS: '9' });
  });

  it('a sandbox endpoint forces dummy credentials, drops the profile and session token, and disables instance metadata', () => {
    const env = buildAwsEnv({ base: { ...base, AWS_ENDPOINT_URL_ELASTIC_BEANSTALK: 'https://real' }, region: 'ap-northeast-2', endpoint: 'http://127.0.0.1:4566', accessKeyId: 'AKIAFILEFILEFILEFILE', secretAccessKey: 'file-secret' });
    expect(env.AWS_ENDPOINT_URL).toBe('http://127.0.0.1:4566');
    expect(env.AWS_ACCESS_KEY_ID).toBe('sandbox');
    expect(env.AWS_SECRET_ACCESS_KEY).toBe('sandbox');
    expect(env.AWS_EC2_METADATA_DISABLED).toBe('true');
    for (const k of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL_ELASTIC_BEANSTALK']) expect(env, k).not.toHaveProperty(k);
    expect(JSON.stringify(env)).not.toMatch(/env-secret|file-secret|AKIAENV|AKIAFILE/);
  });

  it('credentials from the file override the environment\'s and the profile', () => {
    const env = buildAwsEnv({ base, region: 'ap-northeast-2', accessKeyId: 'AKIAFILEFILEFILEFILE', secretAccessKey: 'file-secret' });
    expect(env.AWS_ACCESS_KEY_ID).toBe('AKIAFILEFILEFILEFILE');
    expect(env.AWS_SECRET_ACCESS_KEY).toBe('file-secret');
    expect(env).not.toHaveProperty('AWS_PROFILE');
  });

  // Another identity's session token beside the file's long-term key makes every call fail
  // (InvalidClientTokenId / UnrecognizedClientException).
  it('credentials from the file drop an inherited session token that belongs to other credentials', () => {
    const env = buildAwsEnv({ base, region: 'ap-northeast-2', accessKeyId: 'AKIAFILEFILEFILEFILE', secretAccessKey: 'file-secret' });
    expect(env).not.toHaveProperty('AWS_SESSION_TOKEN');
  });

  it('half a key pair in the file is ignored', () => {
    const env = buildAwsEnv({ base, region: 'ap-northeast-2', accessKeyId: 'AKIAFILEFILEFILEFILE' });
    expect(env.AWS_ACCESS_KEY_ID).toBe(base.AWS_ACCESS_KEY_ID);
    expect(env.AWS_PROFILE).toBe('prod');
  });
});

describe('which aws CLI (issue 15)', () => {
  it('asks `<bin> --version` once per run, before the first call, with the phase\'s env, and shows it with -v', async () => {
    const { aws, exec, err } = setup([ok(V2 + '\n'), ok('{}'), ok('{}')], { version: null, bin: '/usr/bin/aws', verbose: true });
    await aws.aws(['ec2', 'describe-vpcs']);
    await aws.passthrough('aws', ['ec2', 'describe-subnets']);
    expect(exec.calls.map((c) => [c.opts.bin, c.args[0]])).toEqual([['/usr/bin/aws', '--version'], ['/usr/bin/aws', 'ec2'], ['/usr/bin/aws', 'ec2']]);
    expect(exec.calls[0].opts.env).toEqual({ AWS_DEFAULT_REGION: 'ap-northeast-2' });
    await expect(aws.cliVersion()).resolves.toMatchObject({ major: 2, minor: 9, patch: 19, text: V2 });
    expect(exec.calls).toHaveLength(3); // cached
    expect(err.text).toContain(`aws CLI: /usr/bin/aws ${V2}`);
  });

  it('reads the version from stderr too (old v1s printed it there)', async () => {
    const { aws } = setup([{ exitCode: 0, stdout: '', stderr: 'aws-cli/1.29.4 Python/3.8.10 Linux/5.4 botocore/1.31.4\n' }], { version: null });
    await expect(aws.cliVersion()).resolves.toMatchObject({ major: 1, minor: 29, patch: 4 });
  });

  it('a version too old is exit 2 naming the minimum, before any aws call', async () => {
    for (const [line, shown] of [
      ['aws-cli/1.28.9 Python/3.8 Linux/5 botocore/1.30.9', 'aws-cli/1.28.9 (v1)'],
      ['aws-cli/2.8.13 Python/3.9 Linux/5 exe/x86_64', 'aws-cli/2.8.13 (v2)'],
      ['aws-cli/3.0.0 Python/3.13', 'aws-cli/3.0.0 (v3)'],
    ]) {
      const { aws, exec } = setup([ok(line)], { version: null, bin: 'aws' });
      const e = await aws.aws(['ec2', 'describe-vpcs']).catch((x) => x);
      expect(e, line).toBeInstanceOf(UsageError);
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain(`aws is ${shown}`);
      expect(e.message).toContain('v1 1.29 or v2 2.9');
      expect(e.hint).toMatch(/JOHANNA_AWS_CLI/);
      expect(exec.calls).toHaveLength(1); // --version only
    }
  });

  it('the oldest accepted: 1.29.0 and 2.9.0', async () => {
    for (const line of ['aws-cli/1.29.0 Python/3.8', 'aws-cli/2.9.0 Python/3.9']) {
      const { aws } = setup([ok(line), ok('{}')], { version: null });
      await expect(aws.aws(['ec2', 'describe-vpcs']), line).resolves.toEqual({});
    }
  });

  // Issue 20 item 18: a CLI the user named that is not one is bad input, exit 2 (was 1).
  it('a program named as the aws CLI that is not one: exit 2 saying what it printed, nothing else run', async () => {
    const { aws, exec } = setup([{ exitCode: 99, stdout: '', stderr: 'fake aws: no AWS here\n' }], { version: null, bin: '/opt/fake/aws' });
    const e = await aws.aws(['ec2', 'describe-vpcs']).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe("'/opt/fake/aws --version' did not print an aws CLI version (exit 99: fake aws: no AWS here)");
    expect(exec.calls).toHaveLength(1);
  });

  it('`aws` on PATH that is not the aws CLI stays exit 1 (the machine, not the input)', async () => {
    const { aws } = setup([{ exitCode: 0, stdout: 'hello\n', stderr: '' }], { version: null });
    const e = await aws.aws(['ec2', 'describe-vpcs']).catch((x) => x);
    expect(e).toBeInstanceOf(MissingToolError);
    expect(e.exitCode).toBe(1);
  });

  it('a named aws CLI that does not exist: exit 2 naming it (the real exec, no process started)', async () => {
    const e = await execaExec('aws', ['--version'], { env: {}, bin: '/nonexistent/johanna-aws' }).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain("'/nonexistent/johanna-aws' does not exist");
    expect(e.hint).toMatch(/JOHANNA_AWS_CLI or aws\.CLI/);
  });

  // Issue 20 item 12: a partial line went out after 50 ms, redacted alone, so a secret split
  // across a pause printed in two clear halves. A real child, pausing mid-secret.
  it('the streamed passthrough never shows a secret split across a pause', async () => {
    const secret = 'abcdef-123456-secret';
    const redactor = new Redactor([secret]);
    let out = '';
    const script = `process.stdout.write('token: ${secret.slice(0, 9)}'); setTimeout(() => process.stdout.write('${secret.slice(9)} ok\\n'), 400);`;
    const r = await execaExec('aws', ['-e', script], {
      env: { PATH: process.env.PATH },
      bin: process.execPath,
      onOutput: (t) => (out += redactor.redact(t)),
      holdBack: (t) => redactor.heldTail(t),
    });
    expect(r.exitCode).toBe(0);
    expect(out).toBe('token: *** ok\n');
  });

  it('a partial line that cannot begin a secret still goes out before the line ends (a prompt)', () => {
    const redactor = new Redactor(['abcdef-123456-secret']);
    expect(redactor.heldTail('Enter a name: ')).toBe(0);
    expect(redactor.heldTail('token: abc')).toBe(3);
  });

  it('a --dry-run of mutating calls only asks nothing: no aws process at all', async () => {
    const { aws, exec } = setup([], { version: null, dryRun: true });
    await aws.aws(['ec2', 'create-vpc', '--cidr-block', '10.0.0.0/16']);
    await aws.passthrough('aws', ['ec2', 'delete-vpc', '--vpc-id', 'vpc-1']);
    expect(exec.calls).toEqual([]);
  });

  it('the binary: JOHANNA_AWS_CLI wins over aws.CLI, which wins over `aws`; relative paths from where they were written', () => {
    const { config } = parseConfig(structuredClone(sandboxJson), 'env.test.json');
    expect(awsCliBin({}, config, '/etc/johanna/env.json')).toBe('aws');
    const withCli = { ...config, aws: { ...config.aws, CLI: 'bin/aws2' } };
    expect(awsCliBin({}, withCli, '/etc/johanna/env.json')).toBe('/etc/johanna/bin/aws2');
    expect(awsCliBin({}, { ...config, aws: { ...config.aws, CLI: 'aws2' } }, '/etc/johanna/env.json')).toBe('aws2');
    expect(awsCliBin({ JOHANNA_AWS_CLI: '/usr/bin/aws' }, withCli, '/etc/johanna/env.json')).toBe('/usr/bin/aws');
    expect(awsCliBin({ JOHANNA_AWS_CLI: './aws' }, withCli, '/etc/johanna/env.json')).toBe(path.resolve('aws'));
    expect(awsCliBin({ JOHANNA_AWS_CLI: '  ' }, withCli, '/etc/johanna/env.json')).toBe('/etc/johanna/bin/aws2');
  });

  it('aws.CLI in the config: a non-empty string', () => {
    const raw = structuredClone(sandboxJson) as any;
    raw.aws.CLI = '';
    expect(() => parseConfig(raw, 'env.test.json')).toThrow(/aws\.CLI: empty; expected the aws CLI to run/);
    raw.aws.CLI = '/usr/bin/aws';
    expect(parseConfig(raw, 'env.test.json').config.aws.CLI).toBe('/usr/bin/aws');
  });
});

describe('v2\'s switches (issue 15)', () => {
  it('v2: every call of ours turns the pager and the auto-prompt off and asks for v1\'s blob format', async () => {
    const { aws, exec } = setup([ok('{}')], { version: V2 });
    await aws.aws(['ec2', 'describe-vpcs']);
    expect(exec.calls[0].args).toEqual(['ec2', 'describe-vpcs', '--output', 'json', '--no-cli-pager', '--no-cli-auto-prompt', '--cli-binary-format', 'raw-in-base64-out']);
  });

  it('v2 passthrough: pager and auto-prompt off, but the user\'s own blob format', async () => {
    const { aws, exec } = setup([ok('{}')], { version: V2 });
    await aws.passthrough('aws', ['lambda', 'invoke', '--function-name', 'f', '--payload', 'eyJhIjoxfQ==', 'out.json']);
    expect(exec.calls[0].args).toEqual(['lambda', 'invoke', '--function-name', 'f', '--payload', 'eyJhIjoxfQ==', 'out.json', '--no-cli-pager', '--no-cli-auto-prompt']);
  });

  it('v1: none of them (v1 refuses them as unknown options)', async () => {
    const { aws, exec } = setup([ok('{}'), ok('{}')], { version: V1 });
    await aws.aws(['ec2', 'describe-vpcs']);
    await aws.passthrough('aws', ['ec2', 'describe-vpcs']);
    expect(exec.calls.map((c) => c.args)).toEqual([['ec2', 'describe-vpcs', '--output', 'json'], ['ec2', 'describe-vpcs']]);
  });
});

describe('--endpoint-url for a sandbox phase (issue 15)', () => {
  it('every aws call carries it, ours and the passthrough, for v1 and v2; eb does not get it', async () => {
    for (const version of [V1, V2]) {
      const { aws, exec } = setup([ok('{}'), ok(''), ok('{}'), ok('')], { version, endpoint: ENDPOINT });
      await aws.aws(['ec2', 'describe-vpcs']);
      await aws.aws(['s3', 'cp', '/tmp/a.zip', 's3://b/a.zip']);
      await aws.passthrough('aws', ['s3', 'ls']);
      await aws.passthrough('eb', ['list']);
      const [a, b, c, d] = exec.calls;
      for (const call of [a, b, c]) expect(call.args.slice(call.args.indexOf('--endpoint-url'), call.args.indexOf('--endpoint-url') + 2), version).toEqual(['--endpoint-url', ENDPOINT]);
      expect(a.args.slice(0, 6)).toEqual(['ec2', 'describe-vpcs', '--output', 'json', '--endpoint-url', ENDPOINT]);
      expect(d.args).toEqual(['list']);
    }
  });

  it('an AWS phase\'s calls never have one', async () => {
    const { aws, exec } = setup([ok('{}'), ok('{}')], { version: V2 });
    await aws.aws(['ec2', 'describe-vpcs']);
    await aws.passthrough('aws', ['ec2', 'describe-vpcs']);
    expect(exec.calls.flatMap((c) => c.args).filter((a) => a.includes('endpoint'))).toEqual([]);
  });

  it('the guard: a sandbox phase with an endpoint that is not loopback gets no aws process (exit 2)', async () => {
    for (const endpoint of ['', 'https://ec2.ap-northeast-2.amazonaws.com', 'http://10.0.0.1:4566']) {
      const { aws, exec } = setup([], { endpoint });
      const e = await aws.aws(['ec2', 'describe-vpcs']).catch((x) => x);
      expect(e, endpoint).toBeInstanceOf(UsageError);
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain('refusing to run aws ec2 describe-vpcs');
      await expect(aws.passthrough('aws', ['ec2', 'describe-vpcs'])).rejects.toBeInstanceOf(UsageError);
      expect(exec.calls).toEqual([]);
      expect(aws.records).toEqual([]);
    }
  });

  it('the guard: a passthrough naming another endpoint is refused, in either spelling; the sandbox\'s own is fine', async () => {
    const { aws, exec } = setup([ok('{}')], { endpoint: ENDPOINT });
    for (const args of [
      ['ec2', 'describe-vpcs', '--endpoint-url', 'https://ec2.ap-northeast-2.amazonaws.com'],
      ['--endpoint-url=https://ec2.ap-northeast-2.amazonaws.com', 'ec2', 'describe-vpcs'],
    ]) {
      const e = await aws.passthrough('aws', args).catch((x) => x);
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toContain(`its calls go to ${ENDPOINT} only`);
    }
    expect(exec.calls).toEqual([]);
    await aws.passthrough('aws', ['ec2', 'describe-vpcs', '--endpoint-url', ENDPOINT]);
    expect(exec.calls).toHaveLength(1);
  });

  it('buildCtx: a sandbox config gives the runner its endpoint; an AWS config none', () => {
    const make = (raw: any) => {
      const { config } = parseConfig(raw, 'env.test.json');
      const redactor = new Redactor();
      const log = new Logger({ verbose: false, json: false, color: false, redactor, stdout: new Sink(), stderr: new Sink() });
      return buildCtx({ root: tmp, command: 'status', config, configFile: 'env.test.json', opts: {}, log, redactor, env: {}, exec: recordingExec([]), runLog: false });
    };
    expect(make(structuredClone(sandboxJson)).aws.endpoint).toBe(sandboxJson.sandbox.ENDPOINT.replace(/\/$/, ''));
    const aws = structuredClone(sandboxJson) as any;
    delete aws.sandbox;
    expect(make(aws).aws.endpoint).toBeUndefined();
  });
});

describe('the error text of v1 and v2 (issue 15)', () => {
  // Printed by aws-cli 1.45.11 and 2.9.19 against the sandbox (exit codes: v1 255 for
  // everything; v2 254 for a service error, 255 for a waiter, 252 for a usage error).
  const cases: [string, number, string, string | undefined][] = [
    ['v1 service error', 255, "\nAn error occurred (InvalidVpcID.NotFound) when calling the DescribeVpcs operation: VpcID {'vpc-nope'} does not exist.\n", 'InvalidVpcID.NotFound'],
    ['v2 service error', 254, "\nAn error occurred (InvalidVpcID.NotFound) when calling the DescribeVpcs operation: VpcID {'vpc-nope'} does not exist.\n", 'InvalidVpcID.NotFound'],
    ['v1/v2 waiter', 255, "\nWaiter VpcAvailable failed: An error occurred (InvalidVpcID.NotFound): VpcID {'vpc-nope'} does not exist.\n", 'InvalidVpcID.NotFound'],
    ['v2 throttled to the end', 254, '\nAn error occurred (ThrottlingException) when calling the DescribeEnvironments operation (reached max retries: 7): Rate exceeded\n', 'ThrottlingException'],
    ['v2 usage error', 252, '\nusage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\nTo see help text, you can run:\n\n  aws help\n\nUnknown options: --bogus\n\n', undefined],
    ['v2 invalid choice', 252, "\naws: error: argument operation: Invalid choice, valid choices are:\n\ndescribe-vpcs | describe-subnets\n\nInvalid choice: 'describe-vpcz', maybe you meant:\n\n  * describe-vpcs\n", undefined],
    ['no connection', 255, '\nCould not connect to the endpoint URL: "http://127.0.0.1:1/"\n', undefined],
  ];
  for (const [what, exitCode, stderr, code] of cases) {
    it(`${what}: exit ${exitCode}, code ${code ?? 'none'}`, async () => {
      const { aws } = setup([{ exitCode, stdout: '', stderr }]);
      const e = (await aws.aws(['ec2', 'describe-vpcs']).catch((x) => x)) as AwsCliError;
      expect(e).toBeInstanceOf(AwsCliError);
      expect(e.cliExitCode).toBe(exitCode);
      expect(e.awsCode).toBe(code);
      expect(e.message).not.toMatch(/failed \(exit \d+\): $/);
    });
  }
});

describe('a call sent once (issue 11: a resent swap would swap back)', () => {
  it('runs the aws CLI with AWS_MAX_ATTEMPTS=1, and still retries a throttled answer itself', async () => {
    const { aws, exec } = setup([awsError('Throttling', 'SwapEnvironmentCNAMEs', 'Rate exceeded'), ok('{}')]);
    await aws.aws(['elasticbeanstalk', 'swap-environment-cnames', '--source-environment-name', 'a', '--destination-environment-name', 'b'], { once: true });
    expect(exec.calls).toHaveLength(2);
    for (const c of exec.calls) expect(c.opts.env.AWS_MAX_ATTEMPTS).toBe("1");
  });

  it('a lost answer (connection closed) is not sent again: the caller asks EB what happened', async () => {
    const closed = { exitCode: 255, stdout: '', stderr: 'Connection was closed before we received a valid response from endpoint URL: "http://127.0.0.1:1/".\n' };
    const { aws, exec } = setup([closed]);
    await expect(aws.aws(['elasticbeanstalk', 'swap-environment-cnames', '--source-environment-name', 'a', '--destination-environment-name', 'b'], { once: true })).rejects.toThrow(/Connection was closed/);
    expect(exec.calls).toHaveLength(1);
  });
});

describe("AWS's clock (R103)", () => {
  /** botocore's debug line, written at `at` by this machine's clock (local time, as Python's logging writes it). */
  const headersLine = (at: Date, date: string) => {
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    const stamp = `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())} ${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())},${p(at.getMilliseconds(), 3)}`;
    return `${stamp} - MainThread - botocore.parsers - DEBUG - Response headers: {'date': '${date}', 'server': 'Werkzeug/3.1.8', 'content-type': 'text/xml'}`;
  };
  const at = new Date('2026-12-03T20:28:23.127Z');

  it("reads the last answer's Date header against the moment botocore logged it", () => {
    // AWS is 5 min behind: its header says 20:23:22 (the second, so 20:23:22.5 taken) when it is 20:28:23.127 here.
    const log = ['2026-12-03 20:28:22,900 - MainThread - awscli.clidriver - DEBUG - CLI version', headersLine(new Date(at.getTime() - 9000), 'Thu, 03 Dec 2026 20:00:00 GMT'), headersLine(at, 'Thu, 03 Dec 2026 20:23:22 GMT'), ''].join('\n');
    expect(clockOffsetOf(log, at.getTime() - 700, at.getTime() + 100)).toBe(-300_627);
    expect(clockOffsetOf(headersLine(at, 'Thu, 03 Dec 2026 20:33:24 GMT'), at.getTime() - 700, at.getTime() + 100)).toBe(301_373);
  });

  it('takes the call\'s midpoint when the log time is outside the call (another zone), and nothing without a Date', () => {
    // The log says an hour before the call: read in the midpoint, 21:28:23.627, against 21:28:23.5.
    const started = at.getTime() + 3_600_000;
    expect(clockOffsetOf(headersLine(at, 'Thu, 03 Dec 2026 21:28:23 GMT'), started, started + 1000)).toBe(-127);
    expect(clockOffsetOf("2026-12-03 20:28:23,127 - MainThread - botocore.parsers - DEBUG - Response headers: {'server': 'x'}", 0, 1)).toBeUndefined();
    expect(clockOffsetOf('An error occurred (AccessDenied)', 0, 1)).toBeUndefined();
  });

  it('is measured once a run, by one sts get-caller-identity with --debug, whose debug text is dropped', async () => {
    const ahead = 120_000;
    const { aws, exec } = setup([
      (call) => ({ exitCode: 0, stdout: '{"Account":"123456789012"}', stderr: headersLine(new Date(), new Date(Date.now() + ahead).toUTCString()) }),
    ]);
    const [a, b] = await Promise.all([aws.clockOffset(), aws.clockOffset()]);
    expect(a).toBe(b);
    expect(Math.abs(a - ahead)).toBeLessThanOrEqual(1000);
    expect(exec.calls).toHaveLength(1);
    expect(exec.calls[0].args.slice(0, 3)).toEqual(['sts', 'get-caller-identity', '--debug']);
    expect(Math.abs(aws.awsNow().getTime() - (Date.now() + ahead))).toBeLessThanOrEqual(1100);
  });

  it("a call asked to measure (the lock's first put) reads it on the way: no sts call, and --debug only while unknown", async () => {
    const behind = -300_000;
    const answer = () => ({ exitCode: 0, stdout: '{}', stderr: headersLine(new Date(), new Date(Date.now() + behind).toUTCString()) });
    const { aws, exec } = setup([answer, answer]);
    const put = ['dynamodb', 'put-item', '--table-name', 't', '--item', '{}'];
    await aws.aws(put, { measureClock: true });
    expect(Math.abs((await aws.clockOffset()) - behind)).toBeLessThanOrEqual(1000);
    await aws.aws(put, { measureClock: true });
    expect(exec.calls.map((c) => c.args.includes('--debug'))).toEqual([true, false]);
    expect(exec.calls.map((c) => c.args[0])).toEqual(['dynamodb', 'dynamodb']);
  });

  it('a measurement that fails says so and counts as 0; the run goes on by its own clock', async () => {
    const { aws, err } = setup([awsError('ExpiredToken', 'GetCallerIdentity')]);
    await expect(aws.clockOffset()).resolves.toBe(0);
    expect(err.text).toMatch(/could not read AWS's clock .*this machine's clock as it is/);
  });
});
