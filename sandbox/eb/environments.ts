import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { IamPropagation } from '../iam-propagation.js';
import type { MotoClient } from '../moto-client.js';
import { freePort } from '../ports.js';
import { sleep } from '../process-group.js';
import type { StrictOptions } from '../options.js';
import { checkHealth, extractBundle, installDependencies, startApp } from './app-process.js';
import { ebextensionsProblem } from './ebextensions.js';
import { createEnvironmentResources, deleteLingering, isSingleInstance, terminateInstances } from './ec2-side-effects.js';
import { EbApiError, invalidParameter } from './errors.js';
import { MotoLookups } from './moto-iam.js';
import { ACCOUNT_ID, versionKey, type EbStore, type Environment, type Health, type OptionSetting } from './store.js';
import { listOf, option } from './validate.js';

export interface LifecycleDelays {
  /** Time "EC2" takes to boot before the app is started. */
  launchMs: number;
  /** Time a CNAME swap takes; both environments keep their old CNAMEs meanwhile. */
  swapMs: number;
  /** Time the "stack deletion" takes after the app is stopped. */
  terminateMs: number;
  /** How long a freshly started app has to pass its health check. */
  launchTimeoutMs: number;
  /** Grace between SIGTERM and SIGKILL when an app is stopped. */
  stopGraceMs: number;
  /** How often Ready environments are health-checked. */
  healthIntervalMs: number;
}

const ENVIRONMENT_PROPERTIES = 'aws:elasticbeanstalk:application:environment';
const HEALTH_STATUS: Record<Health, string> = { Green: 'Ok', Yellow: 'Warning', Red: 'Severe', Grey: 'Unknown' };
/** How long a launch stays Severe with --launch-health-blip ("a few seconds", R11). */
export const BLIP_MS = 2500;

// EB deploys its sample application when no version is given; ours answers 200 everywhere.
const SAMPLE_APP = "require('http').createServer((q, s) => s.end('Congratulations')).listen(process.env.PORT, '127.0.0.1');\n";

function optionValue(settings: OptionSetting[], namespace: string, name: string): string | undefined {
  return settings.find((setting) => setting.Namespace === namespace && setting.OptionName === name)?.Value;
}

/** `/echo/`, or the classic form `HTTP:80/echo/`; defaults to `/`. */
export function healthCheckPath(settings: OptionSetting[]): string {
  const url =
    optionValue(settings, 'aws:elasticbeanstalk:application', 'Application Healthcheck URL') ??
    optionValue(settings, 'aws:elasticbeanstalk:environment:process:default', 'HealthCheckPath') ??
    '/';
  const path = url.replace(/^[A-Za-z]+:\d+/, '');
  return path.startsWith('/') ? path : `/${path}`;
}

/** Later settings for the same namespace/option replace earlier ones, as in UpdateEnvironment. */
export function mergeOptionSettings(current: OptionSetting[], changes: OptionSetting[], removals: Array<Pick<OptionSetting, 'Namespace' | 'OptionName'>> = []): OptionSetting[] {
  const key = (setting: Pick<OptionSetting, 'Namespace' | 'OptionName'>) => `${setting.Namespace}\u0000${setting.OptionName}`;
  const merged = new Map(current.map((setting) => [key(setting), setting]));
  for (const removal of removals) merged.delete(key(removal));
  for (const change of changes) merged.set(key(change), change);
  return [...merged.values()];
}

/** Thrown by a deploy step with EB's event text: the step failed the way EB reports it. */
class DeployFailure extends Error {}

/** Launch, health, update, swap and termination of environments, each backed by a real process. */
export class EnvironmentLifecycle {
  private readonly monitor: NodeJS.Timeout;
  private monitoring = false;
  private readonly lookups: MotoLookups;
  private readonly lingering = new Set<NodeJS.Timeout>();
  /** Set by the API: the strict rules' settings and what IAM has made visible. */
  private strict: Pick<StrictOptions, 'eniLingerMs' | 'launchHealthBlip'> = { eniLingerMs: 0, launchHealthBlip: false };
  private iam?: IamPropagation;
  /** Set by the sandbox: events of the stack resources the caller may not create (sandbox/iam/gate.ts, R34). */
  stackPermissions?: (environment: Environment) => Promise<string[] | undefined>;

  constructor(
    private readonly store: EbStore,
    private readonly moto: MotoClient,
    private readonly stateDir: string,
    private readonly delays: LifecycleDelays,
  ) {
    this.lookups = new MotoLookups(moto);
    this.monitor = setInterval(() => void this.checkReadyEnvironments(), delays.healthIntervalMs);
    this.monitor.unref();
  }

  configure(strict: Pick<StrictOptions, 'eniLingerMs' | 'launchHealthBlip'>, iam: IamPropagation): void {
    this.strict = strict;
    this.iam = iam;
  }

  private superseded(environment: Environment, generation: number): boolean {
    return environment.generation !== generation;
  }

  private setHealth(environment: Environment, health: Health, reason = ''): void {
    const before = environment.healthStatus;
    environment.health = health;
    environment.healthStatus = HEALTH_STATUS[health];
    environment.failedChecks = 0;
    if (before !== environment.healthStatus) {
      const severity = health === 'Red' ? 'WARN' : 'INFO';
      this.store.addEvent(environment, `Environment health has transitioned from ${before} to ${environment.healthStatus}.${reason}`, severity);
    }
  }

  private async bundleFor(environment: Environment): Promise<Uint8Array | undefined> {
    if (!environment.versionLabel) return undefined;
    const version = this.store.versions.get(versionKey(environment.applicationName, environment.versionLabel));
    if (!version) throw new Error(`application version ${environment.versionLabel} no longer exists`);
    return this.moto.getObject(version.bucket, version.key);
  }

  /**
   * Fetches the environment's version, checks its .ebextensions, installs its dependencies,
   * starts it and waits for its health check, as EB's Node.js platform does. Answers whether
   * it became healthy in time; a superseded deploy stops what it started. A malformed
   * config file or a failed install throws DeployFailure with EB's event.
   */
  private async deploy(environment: Environment, generation: number): Promise<boolean> {
    const folder = join(this.stateDir, 'envs', environment.id);
    const appDir = join(folder, 'app');
    const logFile = join(folder, 'app.log');
    const bundle = await this.bundleFor(environment);
    if (bundle) extractBundle(bundle, appDir);
    else {
      mkdirSync(appDir, { recursive: true });
      writeFileSync(join(appDir, 'Procfile'), 'web: node sample.js\n');
      writeFileSync(join(appDir, 'sample.js'), SAMPLE_APP);
    }
    const badConfig = ebextensionsProblem(appDir, environment.versionLabel ?? 'Sample Application');
    if (badConfig) throw new DeployFailure(badConfig);
    const installFailed = await installDependencies(appDir, logFile);
    if (installFailed) throw new DeployFailure(`Instance deployment failed. ${installFailed}`);
    if (this.superseded(environment, generation)) return false;
    const properties = Object.fromEntries(
      environment.optionSettings.filter((setting) => setting.Namespace === ENVIRONMENT_PROPERTIES).map((setting) => [setting.OptionName, setting.Value]),
    );
    // What EB deployed, as the instance's app version manifest says it
    // (/opt/elasticbeanstalk/deployment/app_version_manifest.json on Amazon Linux 2 and
    // later; its path and fields are unconfirmed, R56): here beside the app, its path in
    // EB_APP_VERSION_MANIFEST. An `eb deploy` changes it; an environment property does not.
    const manifest = join(folder, 'app_version_manifest.json');
    const label = environment.versionLabel ?? 'Sample Application';
    writeFileSync(manifest, JSON.stringify({ RuntimeSources: { [environment.applicationName]: { [label]: { s3url: '' } } }, DeploymentId: generation + 1, Serial: generation + 1 }));
    // EB gives the app PORT (8080 behind nginx on AWS); here, a free loopback port.
    const app = startApp(appDir, await freePort(), { ...properties, EB_APP_VERSION_MANIFEST: manifest }, logFile);
    if (this.superseded(environment, generation)) {
      await app.stop(this.delays.stopGraceMs);
      return false;
    }
    environment.app = app;
    const path = healthCheckPath(environment.optionSettings);
    const deadline = Date.now() + this.delays.launchTimeoutMs;
    while (Date.now() < deadline && app.exitCode === undefined && !this.superseded(environment, generation)) {
      if (await checkHealth(app.port, path)) return true;
      await sleep(250);
    }
    return false;
  }

  launch(environment: Environment): void {
    const generation = environment.generation;
    const requestId = environment.requestId;
    environment.operation = this.runLaunch(environment, generation).finally(() => this.finished(environment, requestId));
  }

  /** The operation of `requestId` is over: later events (health seen by the monitor) carry none (R50). */
  private finished(environment: Environment, requestId: string | undefined): void {
    if (environment.requestId === requestId) environment.requestId = undefined;
  }

  /**
   * EB's checks of the instance profile, made when the launch starts, not in the request:
   * a missing profile (or one IAM has not yet propagated, --iam-delay) fails the launch with
   * its event (aws-rules.md R8; aws/aws-elastic-beanstalk-cli#26, aws/aws-cdk#28353).
   */
  private async instanceProfileProblem(environment: Environment): Promise<string | undefined> {
    const value = option(environment.optionSettings, 'aws:autoscaling:launchconfiguration', 'IamInstanceProfile');
    if (!value) return 'Environment must have instance profile associated with it.';
    if (/^arn:aws[\w-]*:iam::\d*:role\//.test(value)) return `The instance profile ${value} associated with the environment is invalid.`;
    const name = value.split('/').pop()!;
    const profile = await this.lookups.instanceProfile(name);
    if (!profile || this.young(profile.createdAt) || !(this.iam?.visible('instance-profile', name) ?? true)) {
      return `The instance profile ${value} associated with the environment does not exist.`;
    }
    const roles = await Promise.all(profile.roles.map((role) => this.lookups.role(role)));
    if (roles.length === 0 || roles.some((role) => this.young(role?.createdAt)) || !(this.iam?.visible('instance-profile-role', name) ?? true)) {
      return `The instance profile ${value} associated with the environment has no role. Please attach a role to the instance profile.`;
    }
    return undefined;
  }

  /** Made less than --iam-delay ago: IAM answers for it, EB and EC2 do not see it yet (R8). */
  private young(createdAt: Date | undefined): boolean {
    return createdAt !== undefined && Date.now() - createdAt.getTime() < (this.iam?.delayMs ?? 0);
  }

  /**
   * A service role EB cannot assume does not stop the launch; enhanced health reports it as
   * the cause of Severe health (R8 [32]). Undefined when the role is usable.
   */
  private async serviceRoleProblem(environment: Environment): Promise<string | undefined> {
    const value = option(environment.optionSettings, 'aws:elasticbeanstalk:environment', 'ServiceRole');
    if (!value) return undefined;
    const name = value.split('/').pop()!;
    const path = value.startsWith('arn:') ? '' : value.includes('/') ? `${value.slice(0, value.lastIndexOf('/'))}/` : '';
    const arn = value.startsWith('arn:') ? value : `arn:aws:iam::${ACCOUNT_ID}:role/${path}${name}`;
    const role = await this.lookups.role(name);
    const usable = role !== undefined && !this.young(role.createdAt) && (this.iam?.visible('role', name) ?? true);
    return usable ? undefined : `Unable to assume role "${arn}". Verify that the role exists and is configured correctly.`;
  }

  /**
   * A load-balanced environment needs subnets in two zones: ELBv2 refuses, and EB relays it
   * as an event, aborts its stack and fails the launch (R9 [40]).
   */
  private async zonesProblem(environment: Environment): Promise<string[] | undefined> {
    if (isSingleInstance(environment.optionSettings)) return undefined;
    const settings = environment.optionSettings;
    const ids = listOf(option(settings, 'aws:ec2:vpc', 'ELBSubnets') ?? option(settings, 'aws:ec2:vpc', 'Subnets'));
    if (!ids.length) return undefined; // the default VPC's subnets span the region's zones
    const zones = new Set([...(await this.lookups.subnets(ids)).values()].map((s) => s.availabilityZone));
    if (zones.size >= 2) return undefined;
    const lb = environment.resources?.loadBalancerName ?? `awseb-AWSEB-${environment.id}`;
    return [
      `Creating load balancer named: ${lb} failed Reason: At least two subnets in two different Availability Zones must be specified`,
      `Stack named 'awseb-${environment.id}-stack' aborted operation. Current state: 'CREATE_FAILED'  Reason: The following resource(s) failed to create: [AWSEBV2LoadBalancer].`,
    ];
  }

  private async runLaunch(environment: Environment, generation: number): Promise<void> {
    const { store } = this;
    let healthy = false;
    let serviceRole: string | undefined;
    const started = Date.now();
    try {
      await this.moto.createBucket(store.storageBucket);
      store.addEvent(environment, `Using ${store.storageBucket} as Amazon S3 storage bucket for environment data.`);
      store.addEvent(environment, 'Environment health has transitioned to Pending. Initialization in progress (running for 3 seconds). There are no instances.');
      const profile = await this.instanceProfileProblem(environment);
      if (profile) return await this.failLaunch(environment, generation, [profile]);
      serviceRole = await this.serviceRoleProblem(environment);
      const denied = await this.stackPermissions?.(environment);
      if (denied) return await this.failLaunch(environment, generation, denied);
      const resources = await createEnvironmentResources(this.moto, environment);
      if (this.superseded(environment, generation)) return;
      if (resources.loadBalancerGroup?.ours) store.addEvent(environment, `Created security group named: ${resources.loadBalancerGroup.name}`);
      store.addEvent(environment, `Created security group named: ${resources.instanceGroup?.name}`);
      const zones = await this.zonesProblem(environment);
      if (zones) return await this.failLaunch(environment, generation, zones);
      store.addEvent(environment, 'Waiting for EC2 instances to launch. This may take a few minutes.');
      await sleep(this.delays.launchMs);
      if (this.superseded(environment, generation)) return;
      store.addEvent(environment, `Added instance [${resources.instanceIds.join(', ')}] to your environment.`);
      if (!isSingleInstance(environment.optionSettings)) {
        store.addEvent(environment, `Created load balancer named: arn:aws:elasticloadbalancing:${store.region}:${ACCOUNT_ID}:loadbalancer/app/${resources.loadBalancerName}/${environment.id.slice(2)}`);
      }
      if (this.strict.launchHealthBlip) await this.blip(environment, generation, started);
      if (this.superseded(environment, generation)) return;
      healthy = await this.deploy(environment, generation);
    } catch (error) {
      if (error instanceof DeployFailure) {
        if (this.superseded(environment, generation)) return;
        return await this.failLaunch(environment, generation, [error.message]);
      }
      store.addEvent(environment, `Instance deployment failed: ${(error as Error).message}`, 'ERROR');
    }
    if (this.superseded(environment, generation)) return;
    environment.status = 'Ready';
    environment.dateUpdated = new Date();
    if (healthy && !serviceRole) {
      store.addEvent(environment, 'Instance deployment completed successfully.');
      store.addEvent(environment, `Application available at ${environment.cname}.`);
      const took = Math.max(1, Math.round((Date.now() - started) / 1000));
      this.setHealth(environment, 'Green', ` Initialization completed 1 seconds ago and took ${took} seconds.`);
      store.addEvent(environment, `Successfully launched environment: ${environment.name}`);
    } else {
      this.setHealth(environment, 'Red', ` ${serviceRole ?? 'ELB health is failing or not available for all instances.'}`);
      if (serviceRole) environment.healthCause = serviceRole;
      store.addEvent(environment, 'Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.', 'ERROR');
    }
  }

  /** --launch-health-blip: Severe for a few seconds while still Launching, as real launches often show (R11). */
  private async blip(environment: Environment, generation: number, started: number): Promise<void> {
    const running = Math.round((Date.now() - started) / 1000);
    this.setHealth(environment, 'Red', ` ELB health is failing or not available for all instances. Initialization in progress (running for ${running} seconds).`);
    await sleep(BLIP_MS);
    if (this.superseded(environment, generation)) return;
    environment.health = 'Grey';
    environment.healthStatus = 'Pending';
    this.store.addEvent(environment, 'Environment health has transitioned from Severe to Pending. Initialization in progress.');
  }

  /**
   * A launch EB gives up: its events, then "Failed to launch environment.", and the
   * environment is torn down and ends Terminated (R8, R11).
   */
  private async failLaunch(environment: Environment, generation: number, errors: string[]): Promise<void> {
    if (this.superseded(environment, generation)) return;
    for (const message of errors) this.store.addEvent(environment, message, 'ERROR');
    this.store.addEvent(environment, 'Failed to launch environment.', 'ERROR');
    environment.generation++;
    environment.status = 'Terminating';
    await this.tearDown(environment);
  }

  private requireReady(environment: Environment): void {
    if (environment.status !== 'Ready') {
      throw invalidParameter(`Environment named ${environment.name} is in an invalid state for this operation. Must be Ready.`);
    }
  }

  /** A new version or new settings: the app is restarted with them, as an all-at-once deployment does. */
  update(environment: Environment, changes: { versionLabel?: string; optionSettings: OptionSetting[]; optionsToRemove: Array<Pick<OptionSetting, 'Namespace' | 'OptionName'>> }, requestId?: string): void {
    this.requireReady(environment);
    const generation = ++environment.generation;
    environment.requestId = requestId;
    environment.status = 'Updating';
    environment.dateUpdated = new Date();
    environment.beforeUpdate = { versionLabel: environment.versionLabel, optionSettings: environment.optionSettings };
    environment.optionSettings = mergeOptionSettings(environment.optionSettings, changes.optionSettings, changes.optionsToRemove);
    if (changes.versionLabel) environment.versionLabel = changes.versionLabel;
    this.store.addEvent(environment, 'Environment update is starting.');
    environment.operation = (async () => {
      if (changes.versionLabel) this.store.addEvent(environment, 'Deploying new version to instance(s).');
      // The new version reaches the instances only after EB's deployment steps (the launch delay here).
      await sleep(this.delays.launchMs);
      if (this.superseded(environment, generation)) return;
      const healthy = await this.redeploy(environment, generation);
      if (this.superseded(environment, generation)) return;
      environment.status = 'Ready';
      environment.dateUpdated = new Date();
      environment.beforeUpdate = undefined;
      if (healthy) {
        this.store.addEvent(environment, 'Instance deployment completed successfully.');
        if (changes.versionLabel) this.store.addEvent(environment, 'New application version was deployed to running EC2 instances.');
        this.store.addEvent(environment, 'Environment update completed successfully.');
        this.setHealth(environment, 'Green');
      } else {
        this.store.addEvent(environment, 'Failed to deploy application.', 'ERROR');
        this.setHealth(environment, 'Red', ' Application update failed.');
      }
    })().finally(() => this.finished(environment, requestId));
  }

  /**
   * RestartAppServer ("Causes the environment to restart the application container server
   * running on each of the Amazon EC2 instances") and RebuildEnvironment ("Deletes and
   * recreates all of the AWS resources"): here both stop the app and start it again from
   * the environment's version; the environment is Updating meanwhile. Event texts follow
   * EB's "<operation> is starting." / "<operation> completed successfully." (unconfirmed, R52).
   */
  restart(environment: Environment, operation: 'restartAppServer' | 'rebuildEnvironment', requestId?: string): void {
    this.requireReady(environment);
    const generation = ++environment.generation;
    environment.requestId = requestId;
    environment.status = 'Updating';
    environment.dateUpdated = new Date();
    this.store.addEvent(environment, `${operation} is starting.`);
    environment.operation = (async () => {
      const healthy = await this.redeploy(environment, generation);
      if (this.superseded(environment, generation)) return;
      environment.status = 'Ready';
      environment.dateUpdated = new Date();
      if (healthy) {
        this.store.addEvent(environment, `${operation} completed successfully.`);
        this.setHealth(environment, 'Green');
      } else {
        this.store.addEvent(environment, `${operation} failed.`, 'ERROR');
        this.setHealth(environment, 'Red', ' The application did not start.');
      }
    })().finally(() => this.finished(environment, requestId));
  }

  /**
   * Both keep serving their old CNAMEs until the swap completes (~5 s on AWS, R12). A second
   * swap naming either while one is under way (a retried request whose answer was lost) is
   * EB's OperationInProgressFailure; once it is done, a second one swaps back, as on AWS.
   */
  swap(source: Environment, destination: Environment, requestId?: string): void {
    if (source === destination) throw invalidParameter('Cannot swap CNAMEs of an environment with itself.');
    for (const environment of [source, destination]) {
      if (environment.swapping) {
        // The code is the model's (OperationInProgressException); the text is unconfirmed (R12, R15 [51]).
        throw new EbApiError('OperationInProgressFailure', `Unable to swap CNAMEs for environment ${environment.name}. An operation is already in progress, please retry again shortly.`);
      }
    }
    this.requireReady(source);
    this.requireReady(destination);
    source.requestId = destination.requestId = requestId;
    for (const environment of [source, destination]) this.store.addEvent(environment, 'swapEnvironmentCNAMEs is starting.');
    this.store.addEvent(source, `Swapping CNAMEs for environments '${source.name}' and '${destination.name}'.`);
    source.swapping = destination.swapping = true;
    const generations = [source.generation, destination.generation];
    const done = (async () => {
      try {
        await sleep(this.delays.swapMs);
        if (this.superseded(source, generations[0]) || this.superseded(destination, generations[1])) return;
        [source.cname, destination.cname] = [destination.cname, source.cname];
        [source.cnamePrefix, destination.cnamePrefix] = [destination.cnamePrefix, source.cnamePrefix];
        source.dateUpdated = destination.dateUpdated = new Date();
        for (const environment of [source, destination]) {
          this.store.addEvent(environment, `'${environment.cname}' now points to '${environment.endpointUrl}'.`);
        }
        for (const environment of [source, destination]) {
          this.store.addEvent(environment, `Completed swapping CNAMEs for environments '${source.name}' and '${destination.name}'.`);
        }
      } finally {
        source.swapping = destination.swapping = false;
        this.finished(source, requestId);
        this.finished(destination, requestId);
      }
    })();
    source.operation = destination.operation = done;
  }

  /** The app stops and the environment's version and settings go out again (an update, a restart, an abort); false when it is not healthy after. */
  private async redeploy(environment: Environment, generation: number): Promise<boolean> {
    await environment.app?.stop(this.delays.stopGraceMs);
    environment.app = undefined;
    try {
      return await this.deploy(environment, generation);
    } catch (error) {
      this.store.addEvent(environment, error instanceof DeployFailure ? error.message : `Instance deployment failed: ${(error as Error).message}`, 'ERROR');
      return false;
    }
  }

  /**
   * AbortEnvironmentUpdate (R40): only while an update or deployment is in progress
   * (Updating); anything else is EB's "invalid state ... Must be pending deployment."
   * (aws/aws-elastic-beanstalk-cli-setup#144). The environment is Aborting while EB puts the
   * previous version and settings back, then Ready (eb abort: "reverts environment
   * configuration changes"). The event texts are unconfirmed.
   */
  abort(environment: Environment, requestId?: string): void {
    if (environment.status !== 'Updating' || !environment.beforeUpdate) {
      throw invalidParameter(`Environment named ${environment.name} is in an invalid state for this operation. Must be pending deployment.`);
    }
    const previous = environment.beforeUpdate;
    const generation = ++environment.generation;
    environment.status = 'Aborting';
    environment.dateUpdated = new Date();
    environment.versionLabel = previous.versionLabel;
    environment.optionSettings = previous.optionSettings;
    environment.beforeUpdate = undefined;
    environment.requestId = requestId;
    this.store.addEvent(environment, 'Environment update is being aborted.');
    environment.operation = (async () => {
      const healthy = await this.redeploy(environment, generation);
      if (this.superseded(environment, generation)) return;
      environment.status = 'Ready';
      environment.dateUpdated = new Date();
      this.store.addEvent(environment, 'Environment update was aborted; the previous configuration is back.', healthy ? 'INFO' : 'ERROR');
      this.setHealth(environment, healthy ? 'Green' : 'Red', healthy ? '' : ' Application update failed.');
    })().finally(() => this.finished(environment, requestId));
  }

  /**
   * Routing stops first (the status), then the app gets SIGTERM, then the EC2 resources go.
   * EB refuses while the environment is pending creation or deployment (R40): InvalidParameterValue,
   * "Cannot terminate environment named X. It is currently pending creation." / "pending
   * deployment." (ingenieux/awseb-deployment-plugin#67, aws/aws-elastic-beanstalk-cli-setup#144).
   * `force`: DeleteApplication's TerminateEnvByForce, which takes them all.
   */
  terminate(environment: Environment, requestId?: string, force = false): void {
    if (!force && environment.status === 'Launching') {
      throw invalidParameter(`Cannot terminate environment named ${environment.name}. It is currently pending creation.`);
    }
    if (!force && (environment.status === 'Updating' || environment.status === 'Aborting')) {
      throw invalidParameter(`Cannot terminate environment named ${environment.name}. It is currently pending deployment.`);
    }
    if (environment.status === 'Terminating') {
      // A second request for one already going (R13 calls the text unconfirmed).
      throw invalidParameter(`Environment named ${environment.name} is in an invalid state for this operation. Must be Ready.`);
    }
    environment.generation++;
    environment.status = 'Terminating';
    environment.dateUpdated = new Date();
    environment.requestId = requestId;
    this.store.addEvent(environment, 'terminateEnvironment is starting.');
    const pending = environment.operation;
    environment.operation = (async () => {
      await pending?.catch(() => undefined);
      await this.tearDown(environment);
      this.store.addEvent(environment, 'terminateEnvironment completed successfully.');
    })().finally(() => this.finished(environment, requestId));
  }

  /**
   * Stops the app, terminates the instances, and marks the environment Terminated; the load
   * balancer's interfaces and EB's groups linger eniLingerMs more, as ALB interfaces do (R6).
   */
  private async tearDown(environment: Environment): Promise<void> {
    await environment.app?.stop(this.delays.stopGraceMs);
    environment.app = undefined;
    const resources = environment.resources;
    try {
      if (resources) await terminateInstances(this.moto, resources);
    } catch (error) {
      this.store.addEvent(environment, `Deleting the environment's EC2 resources failed: ${(error as Error).message}`, 'WARN');
    }
    await sleep(this.delays.terminateMs);
    environment.status = 'Terminated';
    environment.health = 'Grey';
    environment.healthStatus = HEALTH_STATUS.Grey;
    environment.terminatedAt = environment.dateUpdated = new Date();
    if (resources) {
      const timer = setTimeout(() => {
        this.lingering.delete(timer);
        deleteLingering(this.moto, resources).catch((error: Error) =>
          this.store.addEvent(environment, `Deleting the load balancer's interfaces failed: ${error.message}`, 'WARN'),
        );
      }, this.strict.eniLingerMs);
      timer.unref();
      this.lingering.add(timer);
    }
  }

  private async checkReadyEnvironments(): Promise<void> {
    if (this.monitoring) return;
    this.monitoring = true;
    try {
      const ready = this.store.environments.filter((environment) => environment.status === 'Ready' && environment.app && !environment.healthCause);
      await Promise.all(ready.map((environment) => this.checkOne(environment)));
    } finally {
      this.monitoring = false;
    }
  }

  private async checkOne(environment: Environment): Promise<void> {
    const { app } = environment;
    const generation = environment.generation;
    if (!app) return;
    if (app.exitCode !== undefined) {
      if (environment.health !== 'Red') this.setHealth(environment, 'Red', ` The application process exited with code ${app.exitCode}.`);
      return;
    }
    const healthy = await checkHealth(app.port, healthCheckPath(environment.optionSettings));
    if (this.superseded(environment, generation) || environment.status !== 'Ready') return;
    if (healthy) {
      if (environment.health !== 'Green') this.setHealth(environment, 'Green');
      environment.failedChecks = 0;
    } else if (environment.health !== 'Red' && ++environment.failedChecks >= 2) {
      this.setHealth(environment, 'Red', ' ELB health is failing or not available for all instances.');
    }
  }

  /** Stops every app process; the sandbox is going away. */
  async close(): Promise<void> {
    clearInterval(this.monitor);
    for (const timer of this.lingering) clearTimeout(timer);
    await Promise.all(
      this.store.environments.map(async (environment) => {
        environment.generation++;
        await environment.operation?.catch(() => undefined);
        await environment.app?.stop(this.delays.stopGraceMs);
      }),
    );
  }
}
