import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { MotoClient } from '../moto-client.js';
import { freePort } from '../ports.js';
import { sleep } from '../process-group.js';
import { checkHealth, extractBundle, startApp } from './app-process.js';
import { createEnvironmentResources, deleteEnvironmentResources } from './ec2-side-effects.js';
import { invalidParameter } from './errors.js';
import { versionKey, type EbStore, type Environment, type Health, type OptionSetting } from './store.js';

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

/** Launch, health, update, swap and termination of environments, each backed by a real process. */
export class EnvironmentLifecycle {
  private readonly monitor: NodeJS.Timeout;
  private monitoring = false;

  constructor(
    private readonly store: EbStore,
    private readonly moto: MotoClient,
    private readonly stateDir: string,
    private readonly delays: LifecycleDelays,
  ) {
    this.monitor = setInterval(() => void this.checkReadyEnvironments(), delays.healthIntervalMs);
    this.monitor.unref();
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
   * Fetches the environment's version, starts it and waits for its health check. Answers
   * whether it became healthy in time; a superseded deploy stops what it started.
   */
  private async deploy(environment: Environment, generation: number): Promise<boolean> {
    const folder = join(this.stateDir, 'envs', environment.id);
    const appDir = join(folder, 'app');
    const bundle = await this.bundleFor(environment);
    if (bundle) extractBundle(bundle, appDir);
    else {
      mkdirSync(appDir, { recursive: true });
      writeFileSync(join(appDir, 'Procfile'), 'web: node sample.js\n');
      writeFileSync(join(appDir, 'sample.js'), SAMPLE_APP);
    }
    const properties = Object.fromEntries(
      environment.optionSettings.filter((setting) => setting.Namespace === ENVIRONMENT_PROPERTIES).map((setting) => [setting.OptionName, setting.Value]),
    );
    const app = startApp(appDir, await freePort(), properties, join(folder, 'app.log'));
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
    environment.operation = this.runLaunch(environment, generation);
  }

  private async runLaunch(environment: Environment, generation: number): Promise<void> {
    const { store } = this;
    let healthy = false;
    try {
      await this.moto.createBucket(store.storageBucket);
      store.addEvent(environment, `Using ${store.storageBucket} as Amazon S3 storage bucket for environment data.`);
      await createEnvironmentResources(this.moto, environment);
      if (this.superseded(environment, generation)) return;
      store.addEvent(environment, `Created security group named: ${environment.securityGroup?.name}`);
      store.addEvent(environment, 'Waiting for EC2 instances to launch. This may take a few minutes.');
      await sleep(this.delays.launchMs);
      if (this.superseded(environment, generation)) return;
      healthy = await this.deploy(environment, generation);
    } catch (error) {
      store.addEvent(environment, `Instance deployment failed: ${(error as Error).message}`, 'ERROR');
    }
    if (this.superseded(environment, generation)) return;
    environment.status = 'Ready';
    environment.dateUpdated = new Date();
    if (healthy) {
      store.addEvent(environment, 'Instance deployment completed successfully.');
      store.addEvent(environment, `Application available at ${environment.cname}.`);
      store.addEvent(environment, `Successfully launched environment: ${environment.name}`);
      this.setHealth(environment, 'Green');
    } else {
      this.setHealth(environment, 'Red', ' ELB health is failing or not available for all instances.');
      store.addEvent(environment, 'Create environment operation is complete, but with errors. For more information, see troubleshooting documentation.', 'ERROR');
    }
  }

  private requireReady(environment: Environment): void {
    if (environment.status !== 'Ready') {
      throw invalidParameter(`Environment named ${environment.name} is in an invalid state for this operation. Must be Ready.`);
    }
  }

  /** A new version or new settings: the app is restarted with them, as an all-at-once deployment does. */
  update(environment: Environment, changes: { versionLabel?: string; optionSettings: OptionSetting[]; optionsToRemove: Array<Pick<OptionSetting, 'Namespace' | 'OptionName'>> }): void {
    this.requireReady(environment);
    const generation = ++environment.generation;
    environment.status = 'Updating';
    environment.dateUpdated = new Date();
    environment.optionSettings = mergeOptionSettings(environment.optionSettings, changes.optionSettings, changes.optionsToRemove);
    if (changes.versionLabel) environment.versionLabel = changes.versionLabel;
    this.store.addEvent(environment, 'Environment update is starting.');
    environment.operation = (async () => {
      if (changes.versionLabel) this.store.addEvent(environment, 'Deploying new version to instance(s).');
      await environment.app?.stop(this.delays.stopGraceMs);
      environment.app = undefined;
      let healthy = false;
      try {
        healthy = await this.deploy(environment, generation);
      } catch (error) {
        this.store.addEvent(environment, `Instance deployment failed: ${(error as Error).message}`, 'ERROR');
      }
      if (this.superseded(environment, generation)) return;
      environment.status = 'Ready';
      environment.dateUpdated = new Date();
      if (healthy) {
        this.store.addEvent(environment, 'Instance deployment completed successfully.');
        if (changes.versionLabel) this.store.addEvent(environment, 'New application version was deployed to running EC2 instances.');
        this.store.addEvent(environment, 'Environment update completed successfully.');
        this.setHealth(environment, 'Green');
      } else {
        this.store.addEvent(environment, 'Failed to deploy application.', 'ERROR');
        this.setHealth(environment, 'Red', ' Application update failed.');
      }
    })();
  }

  /** Both keep serving their old CNAMEs until the swap completes, then new requests follow at once. */
  swap(source: Environment, destination: Environment): void {
    if (source === destination) throw invalidParameter('Cannot swap CNAMEs of an environment with itself.');
    this.requireReady(source);
    this.requireReady(destination);
    for (const environment of [source, destination]) this.store.addEvent(environment, 'swapEnvironmentCNAMEs is starting.');
    const generations = [source.generation, destination.generation];
    const done = (async () => {
      await sleep(this.delays.swapMs);
      if (this.superseded(source, generations[0]) || this.superseded(destination, generations[1])) return;
      [source.cname, destination.cname] = [destination.cname, source.cname];
      [source.cnamePrefix, destination.cnamePrefix] = [destination.cnamePrefix, source.cnamePrefix];
      source.dateUpdated = destination.dateUpdated = new Date();
      for (const environment of [source, destination]) {
        this.store.addEvent(environment, `Completed swapping CNAMEs for environments '${source.name}' and '${destination.name}'.`);
      }
    })();
    source.operation = destination.operation = done;
  }

  /** Routing stops first (the status), then the app gets SIGTERM, then the EC2 resources go. */
  terminate(environment: Environment): void {
    if (environment.status === 'Terminating') {
      throw invalidParameter(`Environment named ${environment.name} is in an invalid state for this operation. Must be Ready.`);
    }
    const pending = environment.operation;
    environment.generation++;
    environment.status = 'Terminating';
    environment.dateUpdated = new Date();
    this.store.addEvent(environment, 'terminateEnvironment is starting.');
    environment.operation = (async () => {
      await pending?.catch(() => undefined);
      await environment.app?.stop(this.delays.stopGraceMs);
      environment.app = undefined;
      try {
        await deleteEnvironmentResources(this.moto, environment);
      } catch (error) {
        this.store.addEvent(environment, `Deleting the environment's EC2 resources failed: ${(error as Error).message}`, 'WARN');
      }
      await sleep(this.delays.terminateMs);
      environment.status = 'Terminated';
      environment.health = 'Grey';
      environment.healthStatus = HEALTH_STATUS.Grey;
      environment.terminatedAt = environment.dateUpdated = new Date();
      this.store.addEvent(environment, 'terminateEnvironment completed successfully.');
    })();
  }

  private async checkReadyEnvironments(): Promise<void> {
    if (this.monitoring) return;
    this.monitoring = true;
    try {
      const ready = this.store.environments.filter((environment) => environment.status === 'Ready' && environment.app);
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
    await Promise.all(
      this.store.environments.map(async (environment) => {
        environment.generation++;
        await environment.operation?.catch(() => undefined);
        await environment.app?.stop(this.delays.stopGraceMs);
      }),
    );
  }
}
