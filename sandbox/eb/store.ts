import type { AppProcess } from './app-process.js';
import { invalidParameter } from './errors.js';

/** What EB made in EC2 for an environment (sandbox/eb/ec2-side-effects.ts makes and removes it). */
export interface EnvironmentResources {
  vpcId: string;
  /** The groups EB made (deleted on termination); the load balancer's may be the user's. */
  instanceGroup?: { id: string; name: string };
  loadBalancerGroup?: { id: string; name: string; ours: boolean };
  instanceIds: string[];
  /** The load balancer's interfaces: they outlive the environment by eniLingerMs (R6). */
  loadBalancerEnis: string[];
  loadBalancerName: string;
}

export const ACCOUNT_ID = '123456789012';

export type Severity = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';
export const SEVERITIES: Severity[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

export type EnvironmentStatus = 'Launching' | 'Updating' | 'Aborting' | 'Ready' | 'Terminating' | 'Terminated';
export type Health = 'Green' | 'Yellow' | 'Red' | 'Grey';

export interface EbEvent {
  seq: number;
  date: Date;
  message: string;
  applicationName: string;
  environmentName?: string;
  versionLabel?: string;
  severity: Severity;
  /** The request whose operation the event belongs to (DescribeEvents' RequestId filter, R50). */
  requestId?: string;
}

export interface Application {
  name: string;
  description?: string;
  tags: { Key: string; Value: string }[];
  dateCreated: Date;
  dateUpdated: Date;
}

export interface AppVersion {
  applicationName: string;
  label: string;
  description?: string;
  bucket: string;
  key: string;
  dateCreated: Date;
  dateUpdated: Date;
}

export interface OptionSetting {
  Namespace: string;
  OptionName: string;
  Value: string;
  ResourceName?: string;
}

export interface Tag {
  Key: string;
  Value: string;
}

export interface Environment {
  id: string;
  name: string;
  applicationName: string;
  versionLabel?: string;
  solutionStackName: string;
  description?: string;
  cnamePrefix: string;
  cname: string;
  endpointUrl: string;
  dateCreated: Date;
  dateUpdated: Date;
  terminatedAt?: Date;
  status: EnvironmentStatus;
  health: Health;
  healthStatus: string;
  optionSettings: OptionSetting[];
  tags: Tag[];
  /** Bumped by every operation, so a background step of an older one sees it was superseded. */
  generation: number;
  /** The background work of the latest launch, update or swap; termination waits for it. */
  operation?: Promise<void>;
  /** Consecutive failed health checks while Ready; two in a row turn the environment Red. */
  failedChecks: number;
  app?: AppProcess;
  /** What the environment made in EC2 (moto). */
  resources?: EnvironmentResources;
  /** Why enhanced health holds it Severe whatever its app answers (a service role EB cannot assume). */
  healthCause?: string;
  /** A CNAME swap naming it is under way: a second one is OperationInProgressFailure. */
  swapping?: boolean;
  /**
   * The request of the operation under way (create, update, swap, terminate, restart,
   * rebuild): its events carry it, so a client follows its own command's events (R50).
   * Cleared when the operation ends; health changes seen later carry none.
   */
  requestId?: string;
  /** The version and settings before the update in progress: what AbortEnvironmentUpdate restores (R40). */
  beforeUpdate?: { versionLabel?: string; optionSettings: OptionSetting[] };
}

export const versionKey = (applicationName: string, label: string) => `${applicationName}\u0000${label}`;

/** Everything EB knows about the account: applications, versions, environments and their events. */
export class EbStore {
  readonly applications = new Map<string, Application>();
  readonly versions = new Map<string, AppVersion>();
  readonly environments: Environment[] = [];
  readonly events: EbEvent[] = [];
  private eventSeq = 0;
  /** EB answers DescribeEvents "up to the last 6 weeks" (R51); --event-retention-minutes shortens it. */
  eventRetentionMs = 42 * 24 * 3600 * 1000;

  /** CNAME prefixes another account holds in the region (--taken-cnames); CNAMEs are regional. */
  readonly takenCnames = new Set<string>();

  constructor(readonly region: string) {}

  get storageBucket(): string {
    return `elasticbeanstalk-${this.region}-${ACCOUNT_ID}`;
  }

  environmentArn(environment: Pick<Environment, 'applicationName' | 'name'>): string {
    return `arn:aws:elasticbeanstalk:${this.region}:${ACCOUNT_ID}:environment/${environment.applicationName}/${environment.name}`;
  }

  cnameOf(prefix: string): string {
    return `${prefix}.${this.region}.elasticbeanstalk.com`;
  }

  addEvent(scope: { applicationName: string; name?: string; versionLabel?: string; requestId?: string }, message: string, severity: Severity = 'INFO'): void {
    this.forgetOldEvents();
    this.events.push({
      seq: ++this.eventSeq,
      date: new Date(),
      message,
      applicationName: scope.applicationName,
      environmentName: scope.name,
      versionLabel: scope.versionLabel,
      severity,
      requestId: scope.requestId,
    });
  }

  /** Events past their retention are gone for good (R51), oldest first in the array. */
  forgetOldEvents(now = Date.now()): void {
    const cutoff = now - this.eventRetentionMs;
    let expired = 0;
    while (expired < this.events.length && this.events[expired].date.getTime() < cutoff) expired++;
    if (expired) this.events.splice(0, expired);
  }

  live(): Environment[] {
    return this.environments.filter((environment) => environment.status !== 'Terminated');
  }

  /** Held by one of our live environments, or by another account (strict.takenCnames). */
  cnamePrefixTaken(prefix: string): boolean {
    if (this.takenCnames.has(prefix.toLowerCase())) return true;
    return this.live().some((environment) => environment.cnamePrefix.toLowerCase() === prefix.toLowerCase());
  }

  byId(id: string): Environment | undefined {
    return this.environments.find((environment) => environment.id === id);
  }

  /** The environment that serves a CNAME right now (what DNS would answer). */
  holderOf(cname: string): Environment | undefined {
    return this.live().find((environment) => environment.cname.toLowerCase() === cname.toLowerCase());
  }

  /** A live environment by name or id, with EB's own error when there is none. */
  find(by: { name?: string; id?: string }): Environment {
    const found = this.live().find((environment) => (by.id ? environment.id === by.id : environment.name === by.name));
    if (found) return found;
    throw by.id
      ? invalidParameter(`No Environment found for EnvironmentId = '${by.id}'.`)
      : invalidParameter(`No Environment found for EnvironmentName = '${by.name}'.`);
  }

  application(name: string): Application {
    const application = this.applications.get(name);
    if (!application) throw invalidParameter(`No Application named '${name}' found.`);
    return application;
  }
}
