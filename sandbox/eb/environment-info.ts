import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { EbApiError, invalidParameter } from './errors.js';
import type { QueryParams } from './params.js';
import type { EbStore, Environment } from './store.js';

// RequestEnvironmentInfo / RetrieveEnvironmentInfo: EB compiles the instances' logs, stores
// them in S3 and hands out presigned URLs. Here the "instance" is the environment's app
// process, whose stdout and stderr go to one file; its logs are served by the sandbox front
// at a loopback URL instead of S3.
//
// Sources: EB API reference, RequestEnvironmentInfo / RetrieveEnvironmentInfo /
// EnvironmentInfoDescription (https://docs.aws.amazon.com/elasticbeanstalk/latest/api/):
// `tail` compiles the last lines of each log file, `bundle` zips the log files, `Message`
// is "a presigned Amazon S3 URL. The files are deleted after 15 minutes."; either
// EnvironmentId or EnvironmentName, else MissingRequiredParameter; an unknown environment
// is InvalidParameterValue. The EB CLI (aws/aws-elastic-beanstalk-cli,
// ebcli/operations/logsops.py) shows 100 tail lines (TAIL_LOG_SIZE) and reads the samples
// "latest last"; its resources/strings.py and the EB developer guide's Rails tutorial show
// the events: "requestEnvironmentInfo is starting.", "[Instance: i-...] Successfully finished
// tailing N log(s)" ("... bundling ..." for a bundle), "Pulled logs for environment instances."
// and the tail's layout: each file's path between two dashed lines, then its lines. On the
// Amazon Linux 2 platforms the app's stdout and stderr are /var/log/web.stdout.log (EB
// developer guide, "Viewing logs from Amazon EC2 instances").

export const TAIL_LINES = 100;
export const SAMPLE_LIFETIME_MS = 15 * 60_000;
const APP_LOG = '/var/log/web.stdout.log';
const RULE = '-'.repeat(40);
const INFO_TYPES = ['tail', 'bundle', 'analyze'] as const;

interface Sample {
  environmentId: string;
  infoType: 'tail' | 'bundle';
  instanceId: string;
  sampleTimestamp: Date;
  token: string;
  contentType: string;
  body: Buffer;
}

export interface EnvironmentInfoOptions {
  /** Where the lifecycle keeps each environment's files (envs/<id>/app.log). */
  stateDir: string;
  /** The front's base URL, known once it listens; the samples' URLs point at it. */
  endpoint: () => string;
  /** How long compiling the logs takes; EB answers the request at once and works in the background. */
  compileMs?: number;
  now?: () => number;
}

/** The file the app process writes (sandbox/eb/environments.ts deploy() passes it to startApp). */
export function appLogFile(stateDir: string, environmentId: string): string {
  return join(stateDir, 'envs', environmentId, 'app.log');
}

export class EnvironmentInfo {
  private samples: Sample[] = [];
  private readonly now: () => number;

  constructor(
    private readonly store: EbStore,
    private readonly options: EnvironmentInfoOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  request(p: QueryParams): undefined {
    const environment = this.environment(p);
    const infoType = this.infoType(p);
    this.forgetExpired();
    // Its events carry its RequestId, as every operation's do (R50): `eb logs` waits for them
    // with describe-events --request-id before it retrieves (ebcli/operations/logsops.py).
    const scope = { applicationName: environment.applicationName, name: environment.name, requestId: p.requestId };
    this.store.addEvent(scope, 'requestEnvironmentInfo is starting.');
    const compile = () => {
      // Terminated meanwhile: nothing left to read, as on AWS.
      if (environment.status === 'Terminated') return;
      // Every instance runs the one app process here, so each gets the same log.
      for (const instanceId of environment.resources?.instanceIds ?? []) {
        this.samples.push(this.compile(environment, instanceId, infoType));
        const verb = infoType === 'tail' ? 'tailing' : 'bundling';
        this.store.addEvent(scope, `[Instance: ${instanceId}] Successfully finished ${verb} 1 log(s)`);
      }
      this.store.addEvent(scope, 'Pulled logs for environment instances.');
    };
    setTimeout(compile, this.options.compileMs ?? 300).unref();
    return undefined;
  }

  retrieve(p: QueryParams) {
    const environment = this.environment(p);
    const infoType = this.infoType(p);
    this.forgetExpired();
    return {
      EnvironmentInfo: this.samples
        .filter((s) => s.environmentId === environment.id && s.infoType === infoType)
        .map((s) => ({
          InfoType: s.infoType,
          Ec2InstanceId: s.instanceId,
          SampleTimestamp: s.sampleTimestamp,
          // A new presigned URL per retrieval, as S3's signing makes one (the signature covers
          // the signing time): a URL says nothing about whether a sample is new; its
          // SampleTimestamp does (issue 19 item 5; the EB CLI compares that time).
          Message: `${this.options.endpoint()}/_sandbox/logs/${s.environmentId}/${s.token}?X-Amz-Date=${new Date(this.now()).toISOString().replace(/[-:]|\.\d+/g, '')}&X-Amz-Expires=900&X-Amz-Signature=${randomBytes(32).toString('hex')}`,
        })),
    };
  }

  /** GET /_sandbox/logs/<environment-id>/<token>: what S3 would answer for the presigned URL. */
  serve(url: string): { status: number; contentType: string; body: Buffer } {
    const m = /^\/_sandbox\/logs\/([^/?]+)\/([0-9a-f]+)(?:\?.*)?$/.exec(url);
    const sample = m && this.samples.find((s) => s.environmentId === m[1] && s.token === m[2]);
    if (!sample || this.expired(sample)) {
      // S3's answer to a presigned URL whose object is gone or whose time is up.
      const body = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>');
      return { status: 403, contentType: 'application/xml', body };
    }
    return { status: 200, contentType: sample.contentType, body: sample.body };
  }

  private environment(p: QueryParams): Environment {
    const id = p.string('EnvironmentId');
    const name = p.string('EnvironmentName');
    if (!id && !name) throw new EbApiError('MissingRequiredParameter', 'You must specify either EnvironmentId or EnvironmentName.');
    return this.store.find({ id, name });
  }

  private infoType(p: QueryParams): 'tail' | 'bundle' {
    const value = p.required('InfoType');
    // The shape of AWS's input validation errors (as for CreateEnvironment's name); the exact text for this field is unconfirmed.
    if (!(INFO_TYPES as readonly string[]).includes(value)) {
      throw new EbApiError('ValidationError', `1 validation error detected: Value '${value}' at 'infoType' failed to satisfy constraint: Member must satisfy enum value set: [${INFO_TYPES.join(', ')}]`);
    }
    if (value === 'analyze') throw invalidParameter("The sandbox does not compile 'analyze' information (on AWS it asks Amazon Bedrock); use tail or bundle.");
    return value as 'tail' | 'bundle';
  }

  private compile(environment: Environment, instanceId: string, infoType: 'tail' | 'bundle'): Sample {
    const log = this.readAppLog(environment);
    const base = { environmentId: environment.id, infoType, instanceId, sampleTimestamp: new Date(this.now()), token: randomBytes(16).toString('hex') };
    if (infoType === 'bundle') {
      return { ...base, contentType: 'application/zip', body: Buffer.from(zipSync({ [APP_LOG.slice(1)]: Buffer.from(log) })) };
    }
    const lines = log.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const text = `${RULE}\n${APP_LOG}\n${RULE}\n${lines.slice(-TAIL_LINES).join('\n')}\n`;
    return { ...base, contentType: 'text/plain; charset=utf-8', body: Buffer.from(text) };
  }

  private readAppLog(environment: Environment): string {
    try {
      return readFileSync(appLogFile(this.options.stateDir, environment.id), 'utf8');
    } catch {
      return '';
    }
  }

  private expired(s: Sample): boolean {
    return this.now() - s.sampleTimestamp.getTime() >= SAMPLE_LIFETIME_MS;
  }

  private forgetExpired(): void {
    this.samples = this.samples.filter((s) => !this.expired(s));
  }
}
