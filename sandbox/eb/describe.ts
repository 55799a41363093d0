import { platformArn } from './solution-stacks.js';
import type { AppVersion, EbStore, EbEvent, Environment } from './store.js';

/** The API's view of our records, keyed exactly as botocore's output shapes. */

export function environmentDescription(store: EbStore, environment: Environment) {
  const loadBalancerName = `awseb-${environment.id}-AWSEBLoa`;
  return {
    EnvironmentName: environment.name,
    EnvironmentId: environment.id,
    ApplicationName: environment.applicationName,
    VersionLabel: environment.versionLabel,
    SolutionStackName: environment.solutionStackName,
    PlatformArn: platformArn(store.region, environment.solutionStackName),
    Description: environment.description,
    EndpointURL: environment.endpointUrl,
    CNAME: environment.cname,
    DateCreated: environment.dateCreated,
    DateUpdated: environment.dateUpdated,
    Status: environment.status,
    AbortableOperationInProgress: environment.status === 'Updating',
    Health: environment.health,
    HealthStatus: environment.healthStatus,
    Resources: { LoadBalancer: { LoadBalancerName: loadBalancerName, Domain: environment.endpointUrl, Listeners: [{ Protocol: 'http', Port: 80 }] } },
    Tier: { Name: 'WebServer', Type: 'Standard', Version: '1.0' },
    EnvironmentLinks: [],
    EnvironmentArn: store.environmentArn(environment),
  };
}

export function versionDescription(store: EbStore, version: AppVersion) {
  return {
    ApplicationVersionArn: `arn:aws:elasticbeanstalk:${store.region}:123456789012:applicationversion/${version.applicationName}/${version.label}`,
    ApplicationName: version.applicationName,
    Description: version.description,
    VersionLabel: version.label,
    SourceBundle: { S3Bucket: version.bucket, S3Key: version.key },
    DateCreated: version.dateCreated,
    DateUpdated: version.dateUpdated,
    Status: 'UNPROCESSED',
  };
}

export function eventDescription(event: EbEvent) {
  return {
    EventDate: event.date,
    Message: event.message,
    ApplicationName: event.applicationName,
    VersionLabel: event.versionLabel,
    EnvironmentName: event.environmentName,
    RequestId: event.requestId,
    Severity: event.severity,
  };
}

/** EB adds its own tags to every environment; ListTagsForResource shows them with the user's. */
export function environmentTags(environment: Environment) {
  return [
    ...environment.tags,
    { Key: 'elasticbeanstalk:environment-name', Value: environment.name },
    { Key: 'elasticbeanstalk:environment-id', Value: environment.id },
    { Key: 'Name', Value: environment.name },
  ];
}
