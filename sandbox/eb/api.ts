import { randomBytes, randomUUID } from 'node:crypto';
import type { IamPropagation } from '../iam-propagation.js';
import type { MotoClient } from '../moto-client.js';
import type { StrictOptions } from '../options.js';
import { environmentDescription, environmentTags, eventDescription, versionDescription } from './describe.js';
import { EnvironmentLifecycle, healthCheckPath } from './environments.js';
import type { EnvironmentInfo } from './environment-info.js';
import { EbApiError, invalidParameter } from './errors.js';
import { MotoLookups } from './moto-iam.js';
import { checkCnamePrefix, checkEc2References, checkEnvironmentName, checkOptionSettings, option } from './validate.js';
import type { ServiceModel } from './model.js';
import { QueryParams } from './params.js';
import { SOLUTION_STACKS, isKnownStack, platformArn } from './solution-stacks.js';
import { branchFilterValue, matches, platformByArn, platformDescription, platformFilterValue, platforms, platformSummary, type Filter } from './platforms.js';
import { configurationSettingsWithDefaults } from './options-catalog.js';
import { SEVERITIES, versionKey, type EbStore, type Environment, type OptionSetting, type Severity } from './store.js';
import { errorResponse, successResponse } from './xml.js';
import { loadBalancerArn, type RequestMetrics } from './request-metrics.js';

function loadBalancerList(region: string, environment: Environment): { Name: string }[] {
  const arn = loadBalancerArn(region, environment);
  return arn ? [{ Name: arn }] : [];
}

type Handler = (params: QueryParams) => Promise<unknown> | unknown;

const OPTION_FIELDS = ['Namespace', 'OptionName', 'Value', 'ResourceName'] as const;

function optionSettings(params: QueryParams, name: string): OptionSetting[] {
  return params.structList(name, OPTION_FIELDS).map((setting) => ({
    Namespace: setting.Namespace ?? '',
    OptionName: setting.OptionName ?? '',
    Value: setting.Value ?? '',
    ...(setting.ResourceName ? { ResourceName: setting.ResourceName } : {}),
  }));
}

function tags(params: QueryParams, name: string) {
  return params.structList(name, ['Key', 'Value'] as const).map((tag) => ({ Key: tag.Key ?? '', Value: tag.Value ?? '' }));
}

const randomId = (length: number) =>
  Array.from(randomBytes(length), (byte) => 'abcdefghijklmnopqrstuvwxyz0123456789'[byte % 36]).join('');

/** The Elastic Beanstalk Query API: one handler an action, answering botocore-shaped XML. */
export class ElasticBeanstalkApi {
  private readonly handlers: Record<string, Handler>;
  private readonly lookups: MotoLookups;

  constructor(
    private readonly model: ServiceModel,
    private readonly store: EbStore,
    private readonly lifecycle: EnvironmentLifecycle,
    private readonly moto: MotoClient,
    private readonly info: EnvironmentInfo,
    /** IAM creates noted by the front: an instance profile or role is usable only once visible. */
    private readonly iam: IamPropagation,
    private readonly strict: StrictOptions,
    /** The router's per-environment request counts (describe-environment-health's ApplicationMetrics). */
    private readonly metrics?: RequestMetrics,
  ) {
    this.lookups = new MotoLookups(moto);
    for (const prefix of strict.takenCnames) store.takenCnames.add(prefix.toLowerCase());
    store.eventRetentionMs = strict.eventRetentionMs;
    lifecycle.configure(strict, iam);
    this.handlers = {
      CreateApplication: (p) => this.createApplication(p),
      DescribeApplications: (p) => this.describeApplications(p),
      DeleteApplication: (p) => this.deleteApplication(p),
      CreateStorageLocation: () => this.createStorageLocation(),
      CreateApplicationVersion: (p) => this.createApplicationVersion(p),
      DescribeApplicationVersions: (p) => this.describeApplicationVersions(p),
      DeleteApplicationVersion: (p) => this.deleteApplicationVersion(p),
      ListAvailableSolutionStacks: () => ({
        SolutionStacks: SOLUTION_STACKS.map((stack) => stack.name),
        SolutionStackDetails: SOLUTION_STACKS.map((stack) => ({ SolutionStackName: stack.name, PermittedFileTypes: stack.fileTypes })),
      }),
      CheckDNSAvailability: (p) => {
        const prefix = p.required('CNAMEPrefix');
        checkCnamePrefix(prefix);
        return { Available: !this.store.cnamePrefixTaken(prefix), FullyQualifiedCNAME: this.store.cnameOf(prefix) };
      },
      CreateEnvironment: (p) => this.createEnvironment(p),
      DescribeEnvironments: (p) => this.describeEnvironments(p),
      DescribeEvents: (p) => this.describeEvents(p),
      DescribeEnvironmentHealth: (p) => this.describeEnvironmentHealth(p),
      DescribeEnvironmentResources: (p) => this.describeEnvironmentResources(p),
      DescribeConfigurationSettings: (p) => this.describeConfigurationSettings(p),
      SwapEnvironmentCNAMEs: (p) => this.swapEnvironmentCnames(p),
      TerminateEnvironment: (p) => this.terminateEnvironment(p),
      AbortEnvironmentUpdate: (p) => {
        this.lifecycle.abort(this.environmentBy(p), p.requestId);
        return undefined;
      },
      UpdateEnvironment: (p) => this.updateEnvironment(p),
      ListTagsForResource: (p) => this.listTagsForResource(p),
      UpdateTagsForResource: (p) => this.updateTagsForResource(p),
      RequestEnvironmentInfo: (p) => this.info.request(p),
      RetrieveEnvironmentInfo: (p) => this.info.retrieve(p),
      DescribePlatformVersion: (p) => ({ PlatformDescription: platformDescription(platformByArn(this.store.region, p.required('PlatformArn'))) }),
      ListPlatformVersions: (p) => this.listPlatformVersions(p),
      ListPlatformBranches: (p) => this.listPlatformBranches(p),
      DescribeInstancesHealth: (p) => this.describeInstancesHealth(p),
      // No managed platform updates are scheduled or have run here: EB answers empty lists then.
      DescribeEnvironmentManagedActions: (p) => (this.environmentBy(p), { ManagedActions: [] }),
      DescribeEnvironmentManagedActionHistory: (p) => {
        this.environmentBy(p);
        checkRange(p, 'MaxItems', 'maxItems', 1, 100);
        return { ManagedActionHistoryItems: [] };
      },
      RestartAppServer: (p) => (this.lifecycle.restart(this.environmentBy(p), 'restartAppServer', p.requestId), undefined),
      RebuildEnvironment: (p) => (this.lifecycle.restart(this.environmentBy(p), 'rebuildEnvironment', p.requestId), undefined),
      UpdateApplicationVersion: (p) => this.updateApplicationVersion(p),
      UpdateApplication: (p) => this.updateApplication(p),
      // EB's default quotas ("Elastic Beanstalk endpoints and quotas", AWS General Reference, R52).
      DescribeAccountAttributes: () => ({
        ResourceQuotas: {
          ApplicationQuota: { Maximum: 75 },
          ApplicationVersionQuota: { Maximum: 1000 },
          EnvironmentQuota: { Maximum: 200 },
          ConfigurationTemplateQuota: { Maximum: 2000 },
          CustomPlatformQuota: { Maximum: 50 },
        },
      }),
      ValidateConfigurationSettings: (p) => this.validateConfigurationSettings(p),
    };
  }

  /** Answers one request; EB errors become the Query protocol's ErrorResponse with their status. */
  async handle(form: URLSearchParams): Promise<{ status: number; body: string }> {
    const action = form.get('Action') ?? '';
    const handler = this.handlers[action];
    // The answer's RequestId is the one the operation's events carry (R50).
    const requestId = randomUUID();
    try {
      // An action EB does not serve (here: one of the model's we do not emulate) is the Query
      // API's common InvalidAction, 400 ("Common Errors", EB API reference; R52).
      if (!handler) throw new EbApiError('InvalidAction', `The action or operation requested is invalid. Verify that the action is typed correctly. (${action || 'no Action'} is not served by the sandbox)`);
      const result = await handler(new QueryParams(form, requestId, this.strict.clockSkewMs));
      return { status: 200, body: successResponse(this.model, action, result, requestId, this.strict.clockSkewMs) };
    } catch (error) {
      if (error instanceof EbApiError) return { status: error.status, body: errorResponse(error.code, error.message, 'Sender', requestId) };
      throw error;
    }
  }

  /** The operations this emulator answers (the README lists them). */
  get served(): string[] {
    return Object.keys(this.handlers).sort();
  }

  private environmentBy(p: QueryParams, nameParam = 'EnvironmentName', idParam = 'EnvironmentId'): Environment {
    const id = p.string(idParam);
    const name = p.string(nameParam);
    if (!id && !name) throw invalidParameter(`You must specify either ${idParam} or ${nameParam}.`);
    return this.store.find({ id, name });
  }

  private createApplication(p: QueryParams) {
    const name = p.required('ApplicationName');
    // EB refuses '/' in an application name (aws-rules.md R73; the exact text unconfirmed,
    // the code EB's generic one): the name becomes a part of ARNs and S3 keys.
    if (name.includes('/')) throw invalidParameter(`Application name ${name} is invalid: it cannot contain '/'.`);
    if (this.store.applications.has(name)) throw invalidParameter(`Application ${name} already exists.`);
    const now = new Date();
    this.store.applications.set(name, { name, description: p.string('Description'), tags: tags(p, 'Tags'), dateCreated: now, dateUpdated: now });
    return { Application: this.applicationDescription(name) };
  }

  private applicationDescription(name: string) {
    const application = this.store.application(name);
    return {
      ApplicationArn: `arn:aws:elasticbeanstalk:${this.store.region}:123456789012:application/${name}`,
      ApplicationName: name,
      Description: application.description,
      DateCreated: application.dateCreated,
      DateUpdated: application.dateUpdated,
      Versions: [...this.store.versions.values()].filter((version) => version.applicationName === name).map((version) => version.label),
      ConfigurationTemplates: [],
    };
  }

  private describeApplications(p: QueryParams) {
    const names = p.list('ApplicationNames');
    const selected = [...this.store.applications.keys()].filter((name) => names.length === 0 || names.includes(name));
    return { Applications: selected.map((name) => this.applicationDescription(name)) };
  }

  private deleteApplication(p: QueryParams) {
    const name = p.required('ApplicationName');
    this.store.application(name);
    const live = this.store.live().filter((environment) => environment.applicationName === name);
    const running = live.filter((environment) => environment.status !== 'Terminating');
    if (running.length > 0 && !p.boolean('TerminateEnvByForce')) {
      throw invalidParameter(
        `Unable to delete application ${name} because it has running environments: ${running.map((environment) => environment.name).join(', ')}. Terminate them first or set TerminateEnvByForce.`,
      );
    }
    for (const environment of running) this.lifecycle.terminate(environment, p.requestId, true);
    this.store.applications.delete(name);
    for (const [key, version] of this.store.versions) if (version.applicationName === name) this.store.versions.delete(key);
    return undefined;
  }

  private async createStorageLocation() {
    await this.moto.createBucket(this.store.storageBucket);
    return { S3Bucket: this.store.storageBucket };
  }

  private async createApplicationVersion(p: QueryParams) {
    const applicationName = p.required('ApplicationName');
    const label = p.required('VersionLabel');
    if (!this.store.applications.has(applicationName) && p.boolean('AutoCreateApplication')) {
      const now = new Date();
      this.store.applications.set(applicationName, { name: applicationName, tags: [], dateCreated: now, dateUpdated: now });
    }
    this.store.application(applicationName);
    if (this.store.versions.has(versionKey(applicationName, label))) {
      throw invalidParameter(`Application Version ${label} already exists.`);
    }
    const bucket = p.string('SourceBundle.S3Bucket');
    const key = p.string('SourceBundle.S3Key');
    if (!bucket || !key) throw invalidParameter('A source bundle (SourceBundle.S3Bucket and SourceBundle.S3Key) is required.');
    if (!(await this.moto.objectExists(bucket, key))) {
      throw new EbApiError('InvalidParameterCombination', `Unable to download from S3 location (Bucket: ${bucket} Key: ${key}). Reason: Not Found`);
    }
    const now = new Date();
    const version = { applicationName, label, description: p.string('Description'), bucket, key, dateCreated: now, dateUpdated: now };
    this.store.versions.set(versionKey(applicationName, label), version);
    return { ApplicationVersion: versionDescription(this.store, version) };
  }

  private describeApplicationVersions(p: QueryParams) {
    const applicationName = p.string('ApplicationName');
    const labels = p.list('VersionLabels');
    const versions = [...this.store.versions.values()]
      .filter((version) => !applicationName || version.applicationName === applicationName)
      .filter((version) => labels.length === 0 || labels.includes(version.label))
      .sort((a, b) => b.dateCreated.getTime() - a.dateCreated.getTime())
      .slice(0, p.integer('MaxRecords') ?? Infinity);
    return { ApplicationVersions: versions.map((version) => versionDescription(this.store, version)) };
  }

  private async deleteApplicationVersion(p: QueryParams) {
    const applicationName = p.required('ApplicationName');
    const label = p.required('VersionLabel');
    const version = this.store.versions.get(versionKey(applicationName, label));
    if (!version) throw invalidParameter(`Application Version ${label} does not exist.`);
    const users = this.store.live().filter((environment) => environment.applicationName === applicationName && environment.versionLabel === label);
    if (users.length > 0) {
      throw invalidParameter(`Unable to delete application version ${label} because it is being used by environment(s): ${users.map((e) => e.name).join(', ')}.`);
    }
    this.store.versions.delete(versionKey(applicationName, label));
    if (p.boolean('DeleteSourceBundle')) await this.moto.deleteObject(version.bucket, version.key);
    return undefined;
  }

  /**
   * What EB refuses at once (R9): the application, the name (4-40, unique in the region),
   * the stack and version, the CNAME prefix (4-63, free in the region: --taken-cnames holds
   * some for another account), every option setting against the catalogue, and the EC2
   * resources they name. IAM and the load balancer's zones fail later, as events.
   */
  private async createEnvironment(p: QueryParams) {
    const applicationName = p.required('ApplicationName');
    const name = p.required('EnvironmentName');
    this.store.application(applicationName);
    checkEnvironmentName(name);
    const nameInUse = () => {
      if (this.store.live().some((environment) => environment.name === name)) throw invalidParameter(`Environment ${name} already exists.`);
    };
    nameInUse();
    // The EB CLI names the platform by its ARN (PlatformArn) instead of the stack name.
    const arn = p.string('PlatformArn');
    const stack = p.string('SolutionStackName') ?? (arn ? platformByArn(this.store.region, arn).stack : undefined);
    if (!stack) throw invalidParameter('No solution stack or platform ARN specified.');
    if (!isKnownStack(stack)) throw invalidParameter(`No Solution Stack named '${stack}' found.`);
    const versionLabel = p.string('VersionLabel');
    if (versionLabel && !this.store.versions.has(versionKey(applicationName, versionLabel))) {
      throw invalidParameter(`No Application Version named '${versionLabel}' found.`);
    }
    const id = `e-${randomId(10)}`;
    const given = p.string('CNAMEPrefix');
    if (given) checkCnamePrefix(given);
    const prefix = given ?? `${name}.eba-${randomId(8)}`;
    const cname = this.store.cnameOf(prefix);
    const cnameFree = () => {
      if (this.store.cnamePrefixTaken(prefix)) throw invalidParameter(`DNS name (${cname}) is not available.`);
    };
    cnameFree();
    const settings = optionSettings(p, 'OptionSettings');
    checkOptionSettings(settings);
    await checkEc2References(this.lookups, settings);
    // The EC2 checks answered asynchronously: a request for the same name or prefix may have
    // been accepted meanwhile (a retried request whose first answer was lost).
    nameInUse();
    cnameFree();
    const now = new Date();
    const environment: Environment = {
      id,
      name,
      applicationName,
      versionLabel,
      solutionStackName: stack,
      description: p.string('Description'),
      cnamePrefix: prefix,
      cname,
      endpointUrl: `awseb-${id}-AWSEBLoa-${randomId(12).toUpperCase()}-${1000000 + Math.floor(Math.random() * 8999999)}.${this.store.region}.elb.amazonaws.com`,
      dateCreated: now,
      dateUpdated: now,
      status: 'Launching',
      health: 'Grey',
      healthStatus: 'Pending',
      optionSettings: settings,
      tags: tags(p, 'Tags'),
      generation: 0,
      failedChecks: 0,
    };
    environment.requestId = p.requestId;
    this.store.environments.push(environment);
    this.store.addEvent(environment, 'createEnvironment is starting.');
    this.lifecycle.launch(environment);
    return environmentDescription(this.store, environment);
  }

  private describeEnvironments(p: QueryParams) {
    const applicationName = p.string('ApplicationName');
    const versionLabel = p.string('VersionLabel');
    const names = p.list('EnvironmentNames');
    const ids = p.list('EnvironmentIds');
    // EB's default is to include environments terminated in the last hour or so; the
    // environment-terminated waiter depends on seeing them without IncludeDeleted.
    const includeDeleted = p.boolean('IncludeDeleted') ?? true;
    const deletedBackTo = p.date('IncludedDeletedBackTo');
    const environments = this.store.environments.filter(
      (environment) =>
        (!applicationName || environment.applicationName === applicationName) &&
        (!versionLabel || environment.versionLabel === versionLabel) &&
        (names.length === 0 || names.includes(environment.name)) &&
        (ids.length === 0 || ids.includes(environment.id)) &&
        (environment.status !== 'Terminated' || (includeDeleted && (!deletedBackTo || environment.terminatedAt! >= deletedBackTo))),
    );
    return { Environments: environments.map((environment) => environmentDescription(this.store, environment)) };
  }

  /**
   * Every filter of DescribeEventsMessage (R50), newest first, at most MaxRecords (1-1000,
   * default 1000) a page with a NextToken for the rest (R19); events past the retention are
   * gone (R51). TemplateName and PlatformArn (a custom platform's) match no event here: we
   * have neither templates nor custom platforms.
   */
  private describeEvents(p: QueryParams) {
    const applicationName = p.string('ApplicationName');
    const environmentName = p.string('EnvironmentName');
    const environmentId = p.string('EnvironmentId');
    const versionLabel = p.string('VersionLabel');
    const requestId = p.string('RequestId');
    const templateName = p.string('TemplateName');
    const platform = p.string('PlatformArn');
    const start = p.date('StartTime');
    const end = p.date('EndTime');
    const severity = p.string('Severity') as Severity | undefined;
    if (severity && !SEVERITIES.includes(severity)) {
      throw new EbApiError('ValidationError', `1 validation error detected: Value '${severity}' at 'severity' failed to satisfy constraint: Member must satisfy enum value set: [${SEVERITIES.join(', ')}]`);
    }
    const maxRecords = checkRange(p, 'MaxRecords', 'maxRecords', 1, 1000) ?? 1000;
    const before = eventToken(p.string('NextToken'));
    const minimum = severity ? SEVERITIES.indexOf(severity) : 0;
    const environmentNameOfId = environmentId ? this.store.environments.find((environment) => environment.id === environmentId)?.name ?? '' : undefined;
    this.store.forgetOldEvents();
    const matching = this.store.events
      .filter(
        (event) =>
          (before === undefined || event.seq < before) &&
          (!applicationName || event.applicationName === applicationName) &&
          (!environmentName || event.environmentName === environmentName) &&
          (environmentNameOfId === undefined || event.environmentName === environmentNameOfId) &&
          (!versionLabel || event.versionLabel === versionLabel) &&
          (!requestId || event.requestId === requestId) &&
          !templateName &&
          !platform &&
          (!start || event.date >= start) &&
          (!end || event.date < end) &&
          SEVERITIES.indexOf(event.severity) >= minimum,
      )
      .sort((a, b) => b.seq - a.seq);
    const page = matching.slice(0, maxRecords);
    const more = matching.length > maxRecords;
    return { Events: page.map(eventDescription), NextToken: more ? Buffer.from(`events-before:${page[page.length - 1].seq}`).toString('base64') : undefined };
  }

  private listPlatformVersions(p: QueryParams) {
    const filters = filtersOf(p, 'Type', 'Operator', 'Values');
    checkRange(p, 'MaxRecords', 'maxRecords', 1, Number.MAX_SAFE_INTEGER);
    const selected = platforms(this.store.region).filter((platform) =>
      filters.every((filter) => matches(platformFilterValue(platform, filter.attribute), filter, filter.attribute === 'PlatformVersion')),
    );
    const { items, next } = pageOf(selected, p.integer('MaxRecords'), p.string('NextToken'));
    return { PlatformSummaryList: items.map(platformSummary), NextToken: next };
  }

  private listPlatformBranches(p: QueryParams) {
    const filters = filtersOf(p, 'Attribute', 'Operator', 'Values');
    checkRange(p, 'MaxRecords', 'maxRecords', 1, Number.MAX_SAFE_INTEGER);
    const branches = new Map<string, ReturnType<typeof platforms>[number]>();
    for (const platform of platforms(this.store.region)) {
      if (!branches.has(platform.branch) && filters.every((filter) => matches(branchFilterValue(platform, filter.attribute), filter))) branches.set(platform.branch, platform);
    }
    const { items, next } = pageOf([...branches.values()], p.integer('MaxRecords'), p.string('NextToken'));
    return {
      PlatformBranchSummaryList: items.map((platform, index) => ({
        PlatformName: platform.language.Name,
        BranchName: platform.branch,
        LifecycleState: platform.branchState,
        BranchOrder: index + 1,
        SupportedTierList: ['WebServer/Standard', 'Worker/SQS/HTTP'],
      })),
      NextToken: next,
    };
  }

  /**
   * Enhanced health per instance (the EB CLI's `eb health`): one entry an instance the
   * environment runs, Ok when its app answers its health check, with its deployment.
   */
  private describeInstancesHealth(p: QueryParams) {
    const environment = this.environmentBy(p);
    const requested = p.list('AttributeNames');
    const wants = (attribute: string) => requested.length === 0 || requested.includes('All') || requested.includes(attribute);
    const running = environment.app !== undefined && environment.app.exitCode === undefined;
    const status = environment.status === 'Launching' ? 'Pending' : environment.healthStatus;
    const color = environment.status === 'Launching' ? 'Grey' : environment.health;
    const metrics = wants('ApplicationMetrics') && this.metrics ? this.metrics.applicationMetrics(environment.id) : undefined;
    return {
      InstanceHealthList: (environment.resources?.instanceIds ?? []).map((id, index) => ({
        InstanceId: id,
        HealthStatus: wants('HealthStatus') ? status : undefined,
        Color: wants('Color') ? color : undefined,
        Causes: wants('Causes') ? (environment.healthStatus === 'Severe' ? [environment.healthCause ?? (running ? 'Application health check is failing.' : 'The application process is not running.')] : []) : undefined,
        LaunchedAt: wants('LaunchedAt') ? environment.dateCreated : undefined,
        ApplicationMetrics: metrics,
        System: wants('System') ? { CPUUtilization: { User: 0.5, Nice: 0, System: 0.3, Idle: 99.1, IOWait: 0.1, IRQ: 0, SoftIRQ: 0 }, LoadAverage: [0, 0.01, 0.05] } : undefined,
        Deployment: wants('Deployment')
          ? { VersionLabel: environment.versionLabel ?? 'Sample Application', DeploymentId: environment.generation + 1, Status: environment.status === 'Updating' ? 'Deploying' : 'Deployed', DeploymentTime: environment.dateUpdated }
          : undefined,
        AvailabilityZone: wants('AvailabilityZone') ? `${this.store.region}${'ac'[index % 2]}` : undefined,
        InstanceType: wants('InstanceType') ? option(environment.optionSettings, 'aws:autoscaling:launchconfiguration', 'InstanceType') ?? 't3.micro' : undefined,
      })),
      RefreshedAt: new Date(),
    };
  }

  private updateApplicationVersion(p: QueryParams) {
    const applicationName = p.required('ApplicationName');
    const label = p.required('VersionLabel');
    this.store.application(applicationName);
    const version = this.store.versions.get(versionKey(applicationName, label));
    if (!version) throw invalidParameter(`No Application Version named '${label}' found.`);
    const description = p.string('Description');
    if (description !== undefined) version.description = description;
    version.dateUpdated = new Date();
    return { ApplicationVersion: versionDescription(this.store, version) };
  }

  private updateApplication(p: QueryParams) {
    const name = p.required('ApplicationName');
    const application = this.store.application(name);
    const description = p.string('Description');
    if (description !== undefined) application.description = description;
    application.dateUpdated = new Date();
    return { Application: this.applicationDescription(name) };
  }

  /**
   * The catalogue's verdict on each setting, as messages instead of an error (the EB CLI's
   * `eb config` checks a saved configuration this way). EnvironmentName or TemplateName
   * names what the settings are for; we have no templates.
   */
  private validateConfigurationSettings(p: QueryParams) {
    const applicationName = p.required('ApplicationName');
    this.store.application(applicationName);
    const environmentName = p.string('EnvironmentName');
    const templateName = p.string('TemplateName');
    if (!environmentName && !templateName) throw invalidParameter('You must specify either an environment name or a template name.');
    if (templateName) throw invalidParameter(`No Configuration Template named '${applicationName}/${templateName}' found.`);
    const environment = this.store.find({ name: environmentName });
    if (environment.applicationName !== applicationName) throw invalidParameter(`No Environment found for EnvironmentName = '${environmentName}'.`);
    const Messages: Array<{ Message: string; Severity: string; Namespace: string; OptionName: string }> = [];
    for (const setting of optionSettings(p, 'OptionSettings')) {
      try {
        checkOptionSettings([setting]);
      } catch (error) {
        if (!(error instanceof EbApiError)) throw error;
        Messages.push({ Message: error.message, Severity: 'error', Namespace: setting.Namespace, OptionName: setting.OptionName });
      }
    }
    return { Messages };
  }

  private describeEnvironmentHealth(p: QueryParams) {
    const environment = this.environmentBy(p);
    const requested = p.list('AttributeNames');
    const wants = (attribute: string) => requested.includes('All') || requested.includes(attribute);
    const running = environment.app && environment.app.exitCode === undefined;
    const severe = environment.healthStatus === 'Severe';
    const causes = !severe
      ? []
      : environment.healthCause
        ? [environment.healthCause]
        : [running ? `ELB health check to ${healthCheckPath(environment.optionSettings)} is failing.` : environment.status === 'Launching' ? 'Initialization in progress: ELB health is failing or not available for all instances.' : 'The application process is not running.'];
    const counts = { NoData: 0, Unknown: 0, Pending: 0, Ok: 0, Info: 0, Warning: 0, Degraded: 0, Severe: 0 };
    if (environment.status === 'Launching') counts[severe ? 'Severe' : 'Pending'] = 1;
    else if (environment.status !== 'Terminated') counts[severe ? 'Severe' : 'Ok'] = 1;
    return {
      EnvironmentName: environment.name,
      HealthStatus: wants('HealthStatus') ? environment.healthStatus : undefined,
      Status: wants('Status') ? environment.status : undefined,
      Color: wants('Color') ? environment.health : undefined,
      Causes: wants('Causes') ? causes : undefined,
      InstancesHealth: wants('InstancesHealth') ? counts : undefined,
      ApplicationMetrics: wants('ApplicationMetrics') && this.metrics ? this.metrics.applicationMetrics(environment.id) : undefined,
      RefreshedAt: wants('RefreshedAt') ? new Date() : undefined,
    };
  }

  private describeEnvironmentResources(p: QueryParams) {
    const environment = this.environmentBy(p);
    return {
      EnvironmentResources: {
        EnvironmentName: environment.name,
        AutoScalingGroups: [{ Name: `awseb-${environment.id}-stack-AWSEBAutoScalingGroup` }],
        Instances: (environment.resources?.instanceIds ?? []).map((Id) => ({ Id })),
        LaunchConfigurations: [],
        LaunchTemplates: [],
        // For an Application Load Balancer, EB names it by its ARN (EB API reference, LoadBalancer).
        LoadBalancers: loadBalancerList(this.store.region, environment),
        Triggers: [],
        Queues: [],
      },
    };
  }

  private describeConfigurationSettings(p: QueryParams) {
    const applicationName = p.required('ApplicationName');
    const environment = this.store.find({ name: p.required('EnvironmentName') });
    if (environment.applicationName !== applicationName) throw invalidParameter(`No Environment found for EnvironmentName = '${environment.name}'.`);
    return {
      ConfigurationSettings: [
        {
          SolutionStackName: environment.solutionStackName,
          PlatformArn: platformArn(this.store.region, environment.solutionStackName),
          ApplicationName: applicationName,
          // Beyond botocore's model, in the EB CLI's (sandbox/eb/model.ts withEbCliMembers).
          Tier: { Name: 'WebServer', Type: 'Standard', Version: '1.0' },
          EnvironmentName: environment.name,
          DeploymentStatus: 'deployed',
          DateCreated: environment.dateCreated,
          DateUpdated: environment.dateUpdated,
          OptionSettings: configurationSettingsWithDefaults(environment.optionSettings, environment.solutionStackName),
        },
      ],
    };
  }

  private swapEnvironmentCnames(p: QueryParams) {
    const source = this.environmentBy(p, 'SourceEnvironmentName', 'SourceEnvironmentId');
    const destination = this.environmentBy(p, 'DestinationEnvironmentName', 'DestinationEnvironmentId');
    this.lifecycle.swap(source, destination, p.requestId);
    return undefined;
  }

  private terminateEnvironment(p: QueryParams) {
    const environment = this.environmentBy(p);
    this.lifecycle.terminate(environment, p.requestId);
    return environmentDescription(this.store, environment);
  }

  private updateEnvironment(p: QueryParams) {
    const environment = this.environmentBy(p);
    const versionLabel = p.string('VersionLabel');
    if (versionLabel && !this.store.versions.has(versionKey(environment.applicationName, versionLabel))) {
      throw invalidParameter(`No Application Version named '${versionLabel}' found.`);
    }
    const description = p.string('Description');
    if (description !== undefined) environment.description = description;
    const settings = optionSettings(p, 'OptionSettings');
    checkOptionSettings(settings);
    const removals = p.structList('OptionsToRemove', ['Namespace', 'OptionName'] as const).map((option) => ({
      Namespace: option.Namespace ?? '',
      OptionName: option.OptionName ?? '',
    }));
    if (versionLabel || settings.length > 0 || removals.length > 0) {
      this.lifecycle.update(environment, { versionLabel, optionSettings: settings, optionsToRemove: removals }, p.requestId);
    }
    return environmentDescription(this.store, environment);
  }

  private environmentByArn(arn: string): Environment {
    const environment = this.store.live().find((candidate) => this.store.environmentArn(candidate) === arn);
    if (!environment) throw new EbApiError('ResourceNotFoundException', `Resource ${arn} not found.`);
    return environment;
  }

  /** An application ARN (`...:application/NAME`) names an application; any other, an environment. */
  private applicationByArn(arn: string) {
    const m = /^arn:aws:elasticbeanstalk:[^:]+:\d+:application\/([^/]+)$/.exec(arn);
    if (!m) return undefined;
    const application = this.store.applications.get(m[1]);
    if (!application) throw new EbApiError('ResourceNotFoundException', `Resource ${arn} not found.`);
    return application;
  }

  private listTagsForResource(p: QueryParams) {
    const arn = p.required('ResourceArn');
    const application = this.applicationByArn(arn);
    return { ResourceArn: arn, ResourceTags: application ? application.tags : environmentTags(this.environmentByArn(arn)) };
  }

  private updateTagsForResource(p: QueryParams) {
    const arn = p.required('ResourceArn');
    const target = this.applicationByArn(arn) ?? this.environmentByArn(arn);
    const removals = new Set([...p.list('TagsToRemove'), ...tags(p, 'TagsToAdd').map((tag) => tag.Key)]);
    target.tags = [...target.tags.filter((tag) => !removals.has(tag.Key)), ...tags(p, 'TagsToAdd')];
    return undefined;
  }
}

/**
 * A number outside the model's range is the Query API's ValidationError with AWS's text
 * ("1 validation error detected: Value '1001' at 'maxRecords' failed to satisfy constraint:
 * Member must have value less than or equal to 1000"; botocore checks only the minimum).
 */
function checkRange(p: QueryParams, name: string, field: string, min: number, max: number): number | undefined {
  const value = p.string(name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new EbApiError('ValidationError', `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must be an integer`);
  if (n > max) throw new EbApiError('ValidationError', `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
  if (n < min) throw new EbApiError('ValidationError', `1 validation error detected: Value '${value}' at '${field}' failed to satisfy constraint: Member must have value greater than or equal to ${min}`);
  return n;
}

/** DescribeEvents' NextToken: the sequence number the next page starts below (opaque to clients). */
function eventToken(token: string | undefined): number | undefined {
  if (token === undefined) return undefined;
  const m = /^events-before:(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8'));
  // The text is unconfirmed (R50); EB's code for a bad parameter value.
  if (!m) throw invalidParameter(`Invalid NextToken: ${token}`);
  return Number(m[1]);
}

/** `Filters.member.N.{Type|Attribute}`, `.Operator`, `.Values.member.M`. */
function filtersOf(p: QueryParams, attribute: 'Type' | 'Attribute', operator: 'Operator', values: 'Values'): Filter[] {
  return p.memberIndexes('Filters').map((index) => ({
    attribute: p.string(`Filters.member.${index}.${attribute}`) ?? '',
    operator: p.string(`Filters.member.${index}.${operator}`) ?? '=',
    values: p.nestedList('Filters', index, values),
  }));
}

/** A page of a short, fixed list: the token is the offset of the next item. */
function pageOf<T>(all: T[], maxRecords: number | undefined, token: string | undefined): { items: T[]; next?: string } {
  const from = token === undefined ? 0 : Number(Buffer.from(token, 'base64').toString('utf8').replace(/^offset:/, ''));
  if (!Number.isInteger(from) || from < 0) throw invalidParameter(`Invalid NextToken: ${token}`);
  const to = maxRecords === undefined ? all.length : from + maxRecords;
  return { items: all.slice(from, to), next: to < all.length ? Buffer.from(`offset:${to}`).toString('base64') : undefined };
}
