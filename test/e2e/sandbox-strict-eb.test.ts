// Issue 11's Elastic Beanstalk rules, each through the real aws CLI against one sandbox of
// this file's own: create-environment's validation (options, types, IAM, EC2 references,
// zones, names, CNAMEs held elsewhere), health as EB reports it (Pending -> Severe blip ->
// Ok, only 200 is healthy, a silent app stays Severe), DNS caching per client address,
// the EC2 layout EB makes, the Node.js platform's way of running the app, and what a
// retried (identical) request meets. Each check says which rule it proves.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsCli } from '../helpers/bench-phase.js';
import { createSandbox, type Sandbox } from '../../sandbox/server.js';
import { viaRouter } from '../helpers/cli.js';

const STACK = '64bit Amazon Linux 2023 v6.6.3 running Node.js 22';
const BUCKET = 'elasticbeanstalk-ap-northeast-2-123456789012';
const SUFFIX = 'ap-northeast-2.elasticbeanstalk.com';
const IAM_DELAY_MS = 15_000;
// Long enough that the checks made within them hold on a loaded 2-core machine (each aws
// call can take seconds there); each check also asserts it ran inside its window.
const DNS_TTL_MS = 60_000; // AWS's own figure (R12)
const ENI_LINGER_MS = 90_000;
const SWAP_MS = 6000;

// Answers 200 with its COLOR on /health and /; the `status` file, if present, sets the status.
const APP = `
const http = require('http'), fs = require('fs');
http.createServer((req, res) => {
  const status = fs.existsSync('status') ? Number(fs.readFileSync('status', 'utf8')) : 200;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ color: process.env.COLOR ?? null, port: process.env.PORT, dep: (() => { try { return require('tiny-local-dep'); } catch { return null; } })() }));
}).listen(process.env.PORT, '127.0.0.1');
`;

function zip(files: Record<string, string | Uint8Array>): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(files).map(([name, data]) => [name, typeof data === 'string' ? strToU8(data) : data])));
}


const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the EB emulator is as strict as EB (real aws CLI)', () => {
  let sandbox: Sandbox;
  let dir: string;
  let vpc = '';
  let otherVpcSubnet = '';
  let subnetA = '';
  let subnetC = '';
  let privateA = '';
  let privateC = '';
  let lbGroup = '';
  let appGroup = '';
  let profileMadeAt = 0;
  /** When the last IAM change the profile needs (its role) was answered: its window starts then. */
  let profileCompleteAt = 0;

  const env = () => ({
    AWS_ENDPOINT_URL: sandbox.endpoint,
    // These tests are about AWS's EB/EC2 rules, not the caller's IAM policies: the account's
    // administrator signs them (sandbox/iam/gate.ts ADMIN_ACCESS_KEY).
    AWS_ACCESS_KEY_ID: 'sandbox-admin',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_DEFAULT_REGION: 'ap-northeast-2',
    AWS_MAX_ATTEMPTS: '1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  });
  const aws = (...args: string[]) => execa(awsCli(), [...args, '--output', 'json'], { env: env(), extendEnv: true, reject: false });
  const ok = async (...args: string[]) => {
    const r = await aws(...args);
    if (r.exitCode !== 0) throw new Error(`aws ${args.join(' ')}: ${r.stderr}`);
    const text = r.stdout.trim();
    return text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : { text };
  };
  const describeEnv = async (name: string) =>
    ((await ok('elasticbeanstalk', 'describe-environments', '--environment-names', name, '--include-deleted')).Environments as any[]).find((e) => e.EnvironmentName === name);
  const events = async (name: string) => ((await ok('elasticbeanstalk', 'describe-events', '--environment-name', name)).Events as any[]).map((e) => e.Message as string).reverse();
  /** Polls describe-environments until `done` holds (a condition, not a sleep). */
  async function until(name: string, done: (e: any) => boolean, ms = 30_000): Promise<any> {
    const end = Date.now() + ms;
    for (;;) {
      const e = await describeEnv(name);
      if (e && done(e)) return e;
      if (Date.now() > end) throw new Error(`timed out waiting on ${name}: ${JSON.stringify(e)}`);
      await pause(300);
    }
  }
  const option = (Namespace: string, OptionName: string, Value: string) => ({ Namespace, OptionName, Value });
  /** The private-instances layout the deploy asks for (PREAMBLE), with one change applied. */
  const layout = (over: Array<ReturnType<typeof option>> = []) => {
    const base = [
      option('aws:ec2:vpc', 'VPCId', vpc),
      option('aws:ec2:vpc', 'Subnets', `${privateA},${privateC}`),
      option('aws:ec2:vpc', 'ELBSubnets', `${subnetA},${subnetC}`),
      option('aws:ec2:vpc', 'AssociatePublicIpAddress', 'false'),
      option('aws:autoscaling:launchconfiguration', 'IamInstanceProfile', 'strict-profile'),
      option('aws:autoscaling:launchconfiguration', 'EC2KeyName', 'strict-key'),
      option('aws:autoscaling:launchconfiguration', 'SSHSourceRestriction', 'tcp, 22, 22, 10.9.0.0/16'),
      option('aws:elasticbeanstalk:environment', 'EnvironmentType', 'LoadBalanced'),
      option('aws:elasticbeanstalk:environment', 'LoadBalancerType', 'application'),
      option('aws:elasticbeanstalk:application', 'Application Healthcheck URL', '/health'),
    ];
    const key = (o: { Namespace: string; OptionName: string }) => `${o.Namespace}/${o.OptionName}`;
    const replaced = new Set(over.map(key));
    return [...base.filter((o) => !replaced.has(key(o))), ...over.filter((o) => o.Value !== '<unset>')];
  };
  const create = (name: string, opts: { prefix?: string; version?: string; settings?: any[]; color?: string } = {}) =>
    aws(
      'elasticbeanstalk', 'create-environment', '--application-name', 'strict', '--environment-name', name,
      ...(opts.prefix ? ['--cname-prefix', opts.prefix] : []),
      '--solution-stack-name', STACK, '--version-label', opts.version ?? 'good',
      '--option-settings', JSON.stringify([...(opts.settings ?? layout()), option('aws:elasticbeanstalk:application:environment', 'COLOR', opts.color ?? name)]),
    );
  async function upload(label: string, files: Record<string, string | Uint8Array>) {
    writeFileSync(join(dir, `${label}.zip`), zip(files));
    await ok('s3', 'cp', join(dir, `${label}.zip`), `s3://${BUCKET}/strict/${label}.zip`);
    await ok('elasticbeanstalk', 'create-application-version', '--application-name', 'strict', '--version-label', label, '--source-bundle', `S3Bucket=${BUCKET},S3Key=strict/${label}.zip`);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strict-eb-'));
    sandbox = await createSandbox({
      port: 0,
      routerPort: 0,
      stateDir: join(dir, 'sandbox'),
      delays: { launchMs: 200, swapMs: SWAP_MS, terminateMs: 200, launchTimeoutMs: 5000 },
      strict: { iamDelayMs: IAM_DELAY_MS, dnsTtlMs: DNS_TTL_MS, eniLingerMs: ENI_LINGER_MS, takenCnames: ['held-elsewhere'], launchHealthBlip: true, rateScale: 20 }, // one attempt a call, fast polls: not about rates (R90)
    });
    vpc = (await ok('ec2', 'create-vpc', '--cidr-block', '10.9.0.0/16')).Vpc.VpcId;
    const other = (await ok('ec2', 'create-vpc', '--cidr-block', '10.8.0.0/16')).Vpc.VpcId;
    const subnet = async (vpcId: string, cidr: string, zone: string) =>
      (await ok('ec2', 'create-subnet', '--vpc-id', vpcId, '--cidr-block', cidr, '--availability-zone', zone)).Subnet.SubnetId as string;
    [subnetA, subnetC, privateA, privateC, otherVpcSubnet] = await Promise.all([
      subnet(vpc, '10.9.128.0/20', 'ap-northeast-2a'),
      subnet(vpc, '10.9.144.0/20', 'ap-northeast-2c'),
      subnet(vpc, '10.9.0.0/20', 'ap-northeast-2a'),
      subnet(vpc, '10.9.16.0/20', 'ap-northeast-2c'),
      subnet(other, '10.8.0.0/20', 'ap-northeast-2a'),
    ]);
    lbGroup = (await ok('ec2', 'create-security-group', '--group-name', 'eb_public', '--description', 'lb', '--vpc-id', vpc)).GroupId;
    appGroup = (await ok('ec2', 'create-security-group', '--group-name', 'eb_private', '--description', 'app', '--vpc-id', vpc)).GroupId;
    const key = execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'key')], { stdio: 'ignore' });
    void key;
    await ok('ec2', 'import-key-pair', '--key-name', 'strict-key', '--public-key-material', `fileb://${join(dir, 'key.pub')}`);
    await ok('elasticbeanstalk', 'create-application', '--application-name', 'strict');
    await ok('elasticbeanstalk', 'create-storage-location');
    await upload('good', { 'server.js': APP, Procfile: 'web: node server.js\n' });
  }, 120_000);

  afterAll(async () => {
    await sandbox?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  describe('create-environment validation (R9, R10)', () => {
    it('an unknown namespace or option: ConfigurationValidationException "Unknown configuration setting"', async () => {
      const r = await create('strict-bad-option', { settings: layout([option('aws:elasticbeanstalk:container:nodejs', 'NodeCommand', 'npm start')]) });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toContain(
        "An error occurred (ConfigurationValidationException) when calling the CreateEnvironment operation: Configuration validation exception: Invalid option specification (Namespace: 'aws:elasticbeanstalk:container:nodejs', OptionName: 'NodeCommand'): Unknown configuration setting.",
      );
      const r2 = await create('strict-bad-option', { settings: layout([option('aws:ec2:vpc', 'Subnet', privateA)]) });
      expect(r2.stderr).toContain("(Namespace: 'aws:ec2:vpc', OptionName: 'Subnet'): Unknown configuration setting.");
    });

    it('values of the wrong type or out of range: "Invalid option value"', async () => {
      for (const [bad, why] of [
        [option('aws:autoscaling:asg', 'MinSize', 'two'), 'Value is not an integer.'],
        [option('aws:autoscaling:asg', 'MaxSize', '20000'), 'Value must be between 1 and 10000.'],
        [option('aws:ec2:vpc', 'AssociatePublicIpAddress', 'maybe'), 'Value must be true or false.'],
        [option('aws:elasticbeanstalk:environment', 'LoadBalancerType', 'gateway'), 'Value must be one of: classic, application, network.'],
      ] as const) {
        const r = await create('strict-bad-value', { settings: layout([bad]) });
        expect(r.stderr).toContain(`(ConfigurationValidationException) when calling the CreateEnvironment operation: Configuration validation exception: Invalid option value: '${bad.Value}' (Namespace: '${bad.Namespace}', OptionName: '${bad.OptionName}'): ${why}`);
      }
      expect(await describeEnv('strict-bad-value')).toBeUndefined();
    });

    it('subnets, security groups and the key pair must exist, and the subnets be in VPCId', async () => {
      const cases: Array<[ReturnType<typeof option>, string]> = [
        [option('aws:ec2:vpc', 'Subnets', `${privateA},subnet-0000000000000dead`), "The subnet 'subnet-0000000000000dead' does not exist."],
        [option('aws:ec2:vpc', 'ELBSubnets', `${subnetA},${otherVpcSubnet}`), `The subnet '${otherVpcSubnet}' is not in VPC '${vpc}'.`],
        [option('aws:autoscaling:launchconfiguration', 'SecurityGroups', 'sg-0000000000000dead'), "The security group 'sg-0000000000000dead' does not exist."],
        [option('aws:elbv2:loadbalancer', 'ManagedSecurityGroup', 'sg-00000000000000bad'), "The security group 'sg-00000000000000bad' does not exist."],
        [option('aws:autoscaling:launchconfiguration', 'EC2KeyName', 'no-such-key'), "The key pair 'no-such-key' does not exist."],
      ];
      for (const [bad, why] of cases) {
        const r = await create('strict-bad-ref', { settings: layout([bad]) });
        expect(r.stderr).toContain(`Invalid option value: '${bad.Value}' (Namespace: '${bad.Namespace}', OptionName: '${bad.OptionName}'): ${why}`);
      }
    });

    it('names are 4-40 characters, CNAME prefixes 4-63; the aws CLI refuses shorter ones itself', async () => {
      const long = await create('n'.repeat(41));
      expect(long.stderr).toContain(`(ValidationError) when calling the CreateEnvironment operation: 1 validation error detected: Value '${'n'.repeat(41)}' at 'environmentName' failed to satisfy constraint: Member must have length less than or equal to 40`);
      const hyphen = await create('strict-');
      expect(hyphen.stderr).toContain('(InvalidParameterValue)');
      const prefix = await create('strict-long-prefix', { prefix: 'p'.repeat(64) });
      expect(prefix.stderr).toContain("at 'cNAMEPrefix' failed to satisfy constraint: Member must have length less than or equal to 63");
      const short = await create('abc');
      expect(short.stderr).toMatch(/Invalid length for parameter EnvironmentName, value: 3, valid (min length: 4|range: 4-inf)/);
    });

    it('a CNAME prefix held by another account (--taken-cnames): check-dns-availability says no, create-environment refuses', async () => {
      const check = await ok('elasticbeanstalk', 'check-dns-availability', '--cname-prefix', 'held-elsewhere');
      expect(check).toEqual({ Available: false, FullyQualifiedCNAME: `held-elsewhere.${SUFFIX}` });
      expect((await ok('elasticbeanstalk', 'check-dns-availability', '--cname-prefix', 'free-prefix')).Available).toBe(true);
      const r = await create('strict-taken', { prefix: 'held-elsewhere' });
      expect(r.stderr).toContain(`An error occurred (InvalidParameterValue) when calling the CreateEnvironment operation: DNS name (held-elsewhere.${SUFFIX}) is not available.`);
      expect(await describeEnv('strict-taken')).toBeUndefined();
    });
  });

  describe('IAM is seen late, and a launch fails as EB fails it (R8)', () => {
    it('an instance profile made seconds ago "does not exist": the launch fails and ends Terminated', async () => {
      await ok('iam', 'create-role', '--role-name', 'strict-role', '--assume-role-policy-document', JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] }));
      profileMadeAt = Date.now();
      await ok('iam', 'create-instance-profile', '--instance-profile-name', 'strict-profile');
      await ok('iam', 'add-role-to-instance-profile', '--instance-profile-name', 'strict-profile', '--role-name', 'strict-role');
      profileCompleteAt = Date.now();
      const early = await create('strict-iam-early');
      expect(early.exitCode, early.stderr).toBe(0); // EB accepts; the failure is asynchronous
      expect(Date.parse(JSON.parse(early.stdout).DateCreated) - profileMadeAt, 'created inside the propagation window').toBeLessThan(IAM_DELAY_MS);
      const gone = await until('strict-iam-early', (e) => e.Status === 'Terminated');
      expect(gone.Status).toBe('Terminated');
      const messages = await events('strict-iam-early');
      expect(messages).toContain('The instance profile strict-profile associated with the environment does not exist.');
      expect(messages.indexOf('Failed to launch environment.')).toBeGreaterThan(messages.indexOf('The instance profile strict-profile associated with the environment does not exist.'));
    });

    it('a profile that IAM does not have at all fails the same way', async () => {
      await create('strict-no-profile', { settings: layout([option('aws:autoscaling:launchconfiguration', 'IamInstanceProfile', 'nobody-profile')]) });
      await until('strict-no-profile', (e) => e.Status === 'Terminated');
      expect(await events('strict-no-profile')).toContain('The instance profile nobody-profile associated with the environment does not exist.');
    });

    it('one zone for a load-balanced environment: EB relays the load balancer error and fails the launch', async () => {
      // The propagation window is a span of time, so this waits exactly for it to end: from
      // the answer to the last IAM change (the role added), not from the first (a loaded
      // machine takes seconds a call).
      await pause(Math.max(0, profileCompleteAt + IAM_DELAY_MS + 500 - Date.now()));
      const r = await create('strict-one-zone', { settings: layout([option('aws:ec2:vpc', 'ELBSubnets', subnetA)]) });
      expect(r.exitCode, r.stderr).toBe(0);
      await until('strict-one-zone', (e) => e.Status === 'Terminated');
      const messages = await events('strict-one-zone');
      expect(messages.some((m) => /^Creating load balancer named: awseb-AWSEB-\w+ failed Reason: At least two subnets in two different Availability Zones must be specified$/.test(m))).toBe(true);
      expect(messages.some((m) => /^Stack named 'awseb-e-\w+-stack' aborted operation/.test(m))).toBe(true);
      expect(messages).toContain('Failed to launch environment.');
    });
  });

  describe('health as EB reports it (R11)', () => {
    it('a launch goes Pending, Severe while still Launching (--launch-health-blip), then Ready and Ok/Green', async () => {
      const r = await create('strict-blue', { prefix: 'strict-main', color: 'blue' });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ Status: 'Launching', Health: 'Grey', CNAME: `strict-main.${SUFFIX}` });
      // Whenever a poll catches it Severe, it is still Launching (the blip lasts a few seconds,
      // so a poll may miss it; the events below prove it happened, and before Ready).
      const seen: string[] = [];
      const ready = await until('strict-blue', (e) => {
        seen.push(`${e.Status}/${e.Health}/${e.HealthStatus}`);
        return e.Status === 'Ready';
      });
      expect(seen.filter((x) => x.endsWith('/Severe')).every((x) => x === 'Launching/Red/Severe'), seen.join(' ')).toBe(true);
      expect([ready.Health, ready.HealthStatus]).toEqual(['Green', 'Ok']);
      const messages = await events('strict-blue');
      const order = [
        'Environment health has transitioned to Pending. Initialization in progress (running for 3 seconds). There are no instances.',
        'Environment health has transitioned from Pending to Severe.',
        'Environment health has transitioned from Severe to Pending.',
        'Environment health has transitioned from Pending to Ok.',
        'Successfully launched environment: strict-blue',
      ].map((start) => messages.findIndex((m) => m.startsWith(start)));
      expect(order.every((i) => i >= 0), messages.join('\n')).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
    });

    it('only a 200 on the health check path is healthy; an app that never answers goes Severe and stays', async () => {
      await upload('answers-204', { 'server.js': APP, Procfile: 'web: node server.js\n', status: '204' });
      await upload('silent', { 'server.js': "require('http').createServer(() => {}).listen(process.env.PORT, '127.0.0.1');\n", Procfile: 'web: node server.js\n' });
      await Promise.all([create('strict-204', { version: 'answers-204' }), create('strict-silent', { version: 'silent' })]);
      for (const name of ['strict-204', 'strict-silent']) {
        const e = await until(name, (x) => x.Status === 'Ready', 60_000);
        expect([e.Health, e.HealthStatus], name).toEqual(['Red', 'Severe']);
        expect(await events(name)).toContain('Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.');
      }
      // It stays: several health checks later (the monitor runs every second) still Severe.
      const before = (await events('strict-silent')).length;
      await until('strict-silent', () => true);
      const again = await describeEnv('strict-silent');
      expect([again.Health, again.HealthStatus]).toEqual(['Red', 'Severe']);
      expect((await events('strict-silent')).filter((m) => /to Ok/.test(m))).toEqual([]);
      expect((await events('strict-silent')).length).toBeGreaterThanOrEqual(before);
    }, 120_000);
  });

  describe('instances as EB makes them (layout)', () => {
    it('instances in the private subnets without public addresses; 80 only from the load balancer group; SSH as restricted', async () => {
      const e = await describeEnv('strict-blue');
      const filter = `Name=tag:elasticbeanstalk:environment-id,Values=${e.EnvironmentId}`;
      const instances = (await ok('ec2', 'describe-instances', '--filters', filter)).Reservations.flatMap((r: any) => r.Instances);
      expect(instances.length).toBeGreaterThanOrEqual(1);
      for (const i of instances) {
        expect([privateA, privateC]).toContain(i.SubnetId);
        expect(i.PublicIpAddress).toBeUndefined();
      }
      const groups = (await ok('ec2', 'describe-security-groups', '--filters', filter)).SecurityGroups as any[];
      const lb = groups.find((g) => /AWSEBLoadBalancerSecurityGroup/.test(g.GroupName));
      const web = groups.find((g) => /-stack-AWSEBSecurityGroup-/.test(g.GroupName));
      expect(lb.IpPermissions.map((p: any) => `${p.FromPort}:${p.IpRanges[0]?.CidrIp}`)).toEqual(['80:0.0.0.0/0']);
      const rules = web.IpPermissions.map((p: any) => `${p.FromPort}:${p.IpRanges[0]?.CidrIp ?? p.UserIdGroupPairs[0]?.GroupId}`).sort();
      expect(rules).toEqual(['22:10.9.0.0/16', `80:${lb.GroupId}`]);
      expect(instances[0].SecurityGroups.map((g: any) => g.GroupId)).toContain(web.GroupId);
      // The load balancer's interfaces, one per ELB subnet, described as ALB interfaces are.
      const enis = (await ok('ec2', 'describe-network-interfaces', '--filters', `Name=group-id,Values=${lb.GroupId}`)).NetworkInterfaces as any[];
      expect(enis.map((n) => n.SubnetId).sort()).toEqual([subnetA, subnetC].sort());
      for (const n of enis) expect(n.Description).toMatch(/^ELB app\/awseb-AWSEB-\w+\/[0-9a-f]+$/);
    });

    it('with ManagedSecurityGroup given, EB makes no load balancer group and opens 80 to that one only', async () => {
      const r = await create('strict-managed', { settings: layout([option('aws:elbv2:loadbalancer', 'ManagedSecurityGroup', lbGroup), option('aws:elbv2:loadbalancer', 'SecurityGroups', lbGroup), option('aws:autoscaling:launchconfiguration', 'SecurityGroups', appGroup)]) });
      expect(r.exitCode, r.stderr).toBe(0);
      const e = await until('strict-managed', (x) => x.Status === 'Ready');
      const groups = (await ok('ec2', 'describe-security-groups', '--filters', `Name=tag:elasticbeanstalk:environment-id,Values=${e.EnvironmentId}`)).SecurityGroups as any[];
      expect(groups.map((g) => g.GroupName).filter((n) => /LoadBalancer/.test(n))).toEqual([]);
      const web = groups.find((g) => /AWSEBSecurityGroup/.test(g.GroupName));
      expect(web.IpPermissions.find((p: any) => p.FromPort === 80).UserIdGroupPairs.map((g: any) => g.GroupId)).toEqual([lbGroup]);
      const instances = (await ok('ec2', 'describe-instances', '--filters', `Name=tag:elasticbeanstalk:environment-id,Values=${e.EnvironmentId}`)).Reservations.flatMap((x: any) => x.Instances);
      expect(instances[0].SecurityGroups.map((g: any) => g.GroupId).sort()).toEqual([appGroup, web.GroupId].sort());
    });

    it('AssociatePublicIpAddress true gives the instances public addresses', async () => {
      await create('strict-public', { settings: layout([option('aws:ec2:vpc', 'Subnets', `${subnetA},${subnetC}`), option('aws:ec2:vpc', 'AssociatePublicIpAddress', 'true')]) });
      const e = await until('strict-public', (x) => x.Status !== 'Launching');
      const instances = (await ok('ec2', 'describe-instances', '--filters', `Name=tag:elasticbeanstalk:environment-id,Values=${e.EnvironmentId}`)).Reservations.flatMap((x: any) => x.Instances);
      expect(instances[0].PublicIpAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    });
  });

  describe('the app runs as the Node.js platform runs it', () => {
    it('npm start without a Procfile, dependencies installed offline from a local tarball, PORT given', async () => {
      const dep = join(dir, 'dep');
      mkdirSync(dep, { recursive: true });
      writeFileSync(join(dep, 'package.json'), JSON.stringify({ name: 'tiny-local-dep', version: '1.0.0', main: 'index.js' }));
      writeFileSync(join(dep, 'index.js'), "module.exports = 'from a local tarball';\n");
      const packed = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: dep, encoding: 'utf8' }).trim().split('\n').pop()!;
      await upload('with-deps', {
        'server.js': APP,
        'package.json': JSON.stringify({ name: 'app', version: '1.0.0', scripts: { start: 'node server.js' }, dependencies: { 'tiny-local-dep': `file:${packed}` } }),
        [packed]: readFileSync(join(dir, packed)),
      });
      await create('strict-npm', { version: 'with-deps', prefix: 'strict-npm' });
      const e = await until('strict-npm', (x) => x.Status === 'Ready', 90_000);
      expect(e.Health).toBe('Green');
      const answer = JSON.parse((await viaRouter(sandbox.router, `strict-npm.${SUFFIX}`, { from: '127.0.0.4', path: '/health' })).body);
      expect(answer.dep).toBe('from a local tarball');
      expect(Number(answer.port)).toBeGreaterThan(1024);
    }, 120_000);

    it('a malformed .ebextensions file fails the launch with EB\'s event', async () => {
      await upload('bad-config', { 'server.js': APP, Procfile: 'web: node server.js\n', '.ebextensions/01.config': 'option_settings:\n    aws:elasticbeanstalk:cloudwatch:logs\n        option_name: StreamLogs\n' });
      await create('strict-ebext', { version: 'bad-config' });
      await until('strict-ebext', (x) => x.Status === 'Terminated');
      const messages = await events('strict-ebext');
      expect(messages.find((m) => m.startsWith('The configuration file .ebextensions/01.config in application version bad-config contains invalid YAML or JSON. YAML exception: Invalid Yaml: '))).toBeDefined();
      expect(messages).toContain('Failed to launch environment.');
    });
  });

  describe('DNS caching and retried requests', () => {
    it('a client keeps the environment its lookup gave it until the TTL; a new client gets the swapped one', async () => {
      await create('strict-green', { prefix: 'strict-next', color: 'green' });
      await until('strict-green', (e) => e.Status === 'Ready' && e.Health === 'Green');
      const main = `strict-main.${SUFFIX}`;
      // 127.0.0.2 resolves main now: blue, kept for the TTL.
      const lookupAt = Date.now();
      expect(JSON.parse((await viaRouter(sandbox.router, main, { from: '127.0.0.2' })).body).color).toBe('blue');
      // Two identical swaps at once, as the aws CLI's retry of a request whose answer was lost:
      // one swaps, the other meets the swap in progress.
      const swap = () => aws('elasticbeanstalk', 'swap-environment-cnames', '--source-environment-name', 'strict-blue', '--destination-environment-name', 'strict-green');
      const outcomes = (await Promise.all([swap(), swap()])).map((r) => (r.exitCode === 0 ? 'ok' : r.stderr));
      expect(outcomes.filter((o) => o === 'ok'), outcomes.join('\n')).toHaveLength(1);
      expect(outcomes.find((o) => o !== 'ok')).toContain('An error occurred (OperationInProgressFailure) when calling the SwapEnvironmentCNAMEs operation');
      await until('strict-green', (e) => e.CNAME === main);
      // A client that never looked it up gets green at once; 127.0.0.2 still has blue cached.
      expect(JSON.parse((await viaRouter(sandbox.router, main, { from: '127.0.0.3' })).body).color).toBe('green');
      const cached = JSON.parse((await viaRouter(sandbox.router, main, { from: '127.0.0.2' })).body).color;
      expect(Date.now() - lookupAt, 'checked inside the TTL').toBeLessThan(DNS_TTL_MS);
      expect(cached).toBe('blue');
      // Terminating blue while 127.0.0.2 still resolves to it breaks that client, as on AWS.
      await ok('elasticbeanstalk', 'terminate-environment', '--environment-name', 'strict-blue');
      const broken = await viaRouter(sandbox.router, main, { from: '127.0.0.2' });
      expect(Date.now() - lookupAt, 'checked inside the TTL').toBeLessThan(DNS_TTL_MS);
      expect([502, 503]).toContain(broken.status);
      expect((await describeEnv('strict-blue')).CNAME).toBe(`strict-next.${SUFFIX}`); // swapped once, not back
      // Once the TTL has passed, its next lookup gives green.
      const end = lookupAt + 3 * DNS_TTL_MS;
      let color = '';
      while (color !== 'green' && Date.now() < end) {
        const a = await viaRouter(sandbox.router, main, { from: '127.0.0.2' });
        color = a.status === 200 ? JSON.parse(a.body).color : '';
        if (color !== 'green') await pause(250);
      }
      expect(color).toBe('green');
      expect(Date.now() - lookupAt).toBeGreaterThanOrEqual(DNS_TTL_MS);
    }, 300_000);

    it('terminate twice: the second is refused; the load balancer interfaces outlive the environment, then go', async () => {
      const blue = await describeEnv('strict-blue');
      const second = await aws('elasticbeanstalk', 'terminate-environment', '--environment-name', 'strict-blue');
      if (blue.Status === 'Terminating') expect(second.stderr).toContain('Environment named strict-blue is in an invalid state for this operation. Must be Ready.');
      else expect(second.stderr).toContain("No Environment found for EnvironmentName = 'strict-blue'.");
      const gone = await until('strict-blue', (e) => e.Status === 'Terminated');
      const lbEnis = async () =>
        ((await ok('ec2', 'describe-network-interfaces')).NetworkInterfaces as any[]).filter((n) =>
          /^ELB app\//.test(n.Description ?? '') && n.Groups.some((g: any) => g.GroupName.startsWith(`awseb-${gone.EnvironmentId}-`)),
        );
      const lingering = await lbEnis();
      expect(Date.now() - Date.parse(gone.DateUpdated), 'looked inside the linger').toBeLessThan(ENI_LINGER_MS);
      expect(lingering.map((n) => n.SubnetId).sort()).toEqual([subnetA, subnetC].sort());
      const end = Date.now() + 2 * ENI_LINGER_MS;
      while ((await lbEnis()).length > 0 && Date.now() < end) await pause(500);
      expect(await lbEnis()).toEqual([]);
      expect(Date.now() - Date.parse(gone.DateUpdated)).toBeGreaterThanOrEqual(ENI_LINGER_MS - 1000);
    }, 400_000);

    it('a retried create-environment meets "Environment <name> already exists."', async () => {
      const r = await create('strict-green', { prefix: 'strict-other' });
      expect(r.stderr).toContain('An error occurred (InvalidParameterValue) when calling the CreateEnvironment operation: Environment strict-green already exists.');
    });
  });

  describe('no terminate while pending creation or deployment; abort-environment-update (R40)', () => {
    it('terminate is refused while Launching and while Updating; abort only while Updating, and it puts the old version back', async () => {
      // Run alone (-t), this test comes right after the profile was made: past IAM's window
      // (--iam-delay, R8) the launch can succeed. In file order the window is long over.
      await pause(Math.max(0, profileCompleteAt + IAM_DELAY_MS - Date.now()));
      const r = await create('strict-busy', { color: 'busy' });
      expect(r.exitCode, r.stderr).toBe(0);
      const launching = await aws('elasticbeanstalk', 'terminate-environment', '--environment-name', 'strict-busy');
      expect(launching.stderr).toContain('An error occurred (InvalidParameterValue) when calling the TerminateEnvironment operation: Cannot terminate environment named strict-busy. It is currently pending creation.');
      const abortLaunch = await aws('elasticbeanstalk', 'abort-environment-update', '--environment-name', 'strict-busy');
      expect(abortLaunch.stderr).toContain('Environment named strict-busy is in an invalid state for this operation. Must be pending deployment.');
      // A lenient sandbox would have terminated it: it launches on and becomes Ready.
      await until('strict-busy', (e) => e.Status === 'Ready');
      const abortReady = await aws('elasticbeanstalk', 'abort-environment-update', '--environment-name', 'strict-busy');
      expect(abortReady.stderr).toContain('Must be pending deployment.');

      // A version that never listens: its deployment lasts launchTimeoutMs (5 s) and would fail.
      await upload('busy-v2', { 'server.js': 'setInterval(() => undefined, 1000);', Procfile: 'web: node server.js\n' });
      const updating = await ok('elasticbeanstalk', 'update-environment', '--environment-name', 'strict-busy', '--version-label', 'busy-v2');
      expect(updating).toMatchObject({ Status: 'Updating', VersionLabel: 'busy-v2' });
      // Both at once, so that both land inside the 5 s deployment on a loaded machine; either
      // order holds: Updating and Aborting are both "pending deployment".
      const [deploying, abort] = await Promise.all([
        aws('elasticbeanstalk', 'terminate-environment', '--environment-name', 'strict-busy'),
        aws('elasticbeanstalk', 'abort-environment-update', '--environment-name', 'strict-busy'),
      ]);
      expect(deploying.stderr).toContain('Cannot terminate environment named strict-busy. It is currently pending deployment.');
      expect(abort.exitCode, abort.stderr).toBe(0);
      const back = await until('strict-busy', (e) => e.Status === 'Ready');
      expect(back.VersionLabel).toBe('good');
      expect(await events('strict-busy')).toContain('Environment update is being aborted.');
      expect((await aws('elasticbeanstalk', 'terminate-environment', '--environment-name', 'strict-busy')).exitCode).toBe(0);
      await until('strict-busy', (e) => e.Status === 'Terminated');
    }, 120_000);
  });
});
