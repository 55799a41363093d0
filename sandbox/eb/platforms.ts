// The platform versions and branches of our solution stacks, as DescribePlatformVersion,
// ListPlatformVersions and ListPlatformBranches answer them (R52). The fields and their
// values follow EB's API reference (PlatformDescription, PlatformSummary,
// PlatformBranchSummary): owner AWSElasticBeanstalk, status Ready, the newest version of a
// branch "recommended", branch lifecycle Supported / Deprecated / Retired.
import { EbApiError } from './errors.js';
import { SOLUTION_STACKS, platformArn } from './solution-stacks.js';

export interface Platform {
  arn: string;
  stack: string;
  /** `Node.js 22 running on 64bit Amazon Linux 2023`: EB names a managed platform by its branch. */
  branch: string;
  version: string;
  language: { Name: string; Version: string };
  os: { name: string; version: string };
  recommended: boolean;
  branchState: 'Supported' | 'Deprecated' | 'Retired';
  fileTypes: string[];
}

const TIERS = ['WebServer/Standard', 'Worker/SQS/HTTP'];
const ADDONS = ['Log/S3', 'Monitoring/Healthd', 'WorkerDaemon/SQSD'];
/** Amazon Linux 2 branches are deprecated (AL2's end of support, 2026-06-30); the others supported. */
const branchState = (os: string): Platform['branchState'] => (os.includes('Amazon Linux 2023') ? 'Supported' : 'Deprecated');

const compareVersions = (a: string, b: string) => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

export function platforms(region: string): Platform[] {
  const all = SOLUTION_STACKS.map((stack) => {
    const m = /^64bit (.+) v(\d+\.\d+\.\d+) running (.+)$/.exec(stack.name)!;
    const [lang, langVersion] = /^(.*?)\s*([\d.]*)$/.exec(m[3])!.slice(1);
    const os = /^(Amazon Linux)\s*(\d*)$/.exec(m[1]);
    return {
      arn: platformArn(region, stack.name)!,
      stack: stack.name,
      branch: `${m[3]} running on 64bit ${m[1]}`,
      version: m[2],
      language: { Name: lang, Version: langVersion },
      os: { name: os?.[1] ?? m[1], version: os?.[2] ?? '' },
      recommended: false,
      branchState: branchState(m[1]),
      fileTypes: stack.fileTypes,
    };
  });
  for (const p of all) p.recommended = !all.some((q) => q.branch === p.branch && compareVersions(q.version, p.version) > 0);
  return all;
}

export function platformByArn(region: string, arn: string): Platform {
  const found = platforms(region).find((p) => p.arn === arn);
  // The text is unconfirmed (R52); the code is EB's generic one for a bad parameter.
  if (!found) throw new EbApiError('InvalidParameterValue', `No Platform named '${arn}' found.`);
  return found;
}

export function platformDescription(p: Platform) {
  return {
    PlatformArn: p.arn,
    PlatformOwner: 'AWSElasticBeanstalk',
    PlatformName: p.branch,
    PlatformVersion: p.version,
    SolutionStackName: p.stack,
    PlatformStatus: 'Ready',
    DateCreated: new Date('2025-01-01T00:00:00Z'),
    DateUpdated: new Date('2025-01-01T00:00:00Z'),
    PlatformCategory: p.language.Name,
    Description: `${p.language.Name} ${p.language.Version} running on 64bit ${p.os.name} ${p.os.version}`.trim(),
    OperatingSystemName: p.os.name,
    OperatingSystemVersion: p.os.version,
    ProgrammingLanguages: [p.language],
    Frameworks: [],
    CustomAmiList: [],
    SupportedTierList: TIERS,
    SupportedAddonList: ADDONS,
    PlatformLifecycleState: p.recommended ? 'Recommended' : undefined,
    PlatformBranchName: p.branch,
    PlatformBranchLifecycleState: p.branchState,
  };
}

export function platformSummary(p: Platform) {
  return {
    PlatformArn: p.arn,
    PlatformOwner: 'AWSElasticBeanstalk',
    PlatformStatus: 'Ready',
    PlatformCategory: p.language.Name,
    OperatingSystemName: p.os.name,
    OperatingSystemVersion: p.os.version,
    SupportedTierList: TIERS,
    SupportedAddonList: ADDONS,
    PlatformLifecycleState: p.recommended ? 'Recommended' : undefined,
    PlatformVersion: p.version,
    PlatformBranchName: p.branch,
    PlatformBranchLifecycleState: p.branchState,
  };
}

export interface Filter {
  attribute: string;
  operator: string;
  values: string[];
}

/**
 * ListPlatformVersions' PlatformFilter (=, !=, <, <=, >, >=, contains, begins_with,
 * ends_with; one value) and ListPlatformBranches' SearchFilter (also in / not_in, OR over
 * the values), as the API reference defines them. Versions compare numerically.
 */
export function matches(value: string | string[] | undefined, filter: Filter, numeric = false): boolean {
  const candidates = Array.isArray(value) ? value : value === undefined ? [] : [value];
  const test = (v: string, w: string): boolean => {
    const cmp = numeric ? compareVersions(v, w) : v < w ? -1 : v > w ? 1 : 0;
    switch (filter.operator) {
      case '=': return v === w;
      case '!=': return v !== w;
      case '<': return cmp < 0;
      case '<=': return cmp <= 0;
      case '>': return cmp > 0;
      case '>=': return cmp >= 0;
      case 'contains': return v.includes(w);
      case 'begins_with': return v.startsWith(w);
      case 'ends_with': return v.endsWith(w);
      case 'in': return v === w;
      case 'not_in': return v !== w;
      default: throw new EbApiError('InvalidParameterValue', `Invalid operator '${filter.operator}' for filter '${filter.attribute}'.`);
    }
  };
  if (filter.operator === 'not_in' || filter.operator === '!=') return candidates.every((v) => filter.values.every((w) => test(v, w)));
  return candidates.some((v) => filter.values.some((w) => test(v, w)));
}

export function platformFilterValue(p: Platform, type: string): string | string[] | undefined {
  switch (type) {
    case 'PlatformName': return p.branch;
    case 'PlatformVersion': return p.version;
    case 'PlatformStatus': return 'Ready';
    case 'PlatformBranchName': return p.branch;
    case 'PlatformLifecycleState': return p.recommended ? 'recommended' : undefined;
    case 'PlatformOwner': return 'AWSElasticBeanstalk';
    case 'SupportedTier': return TIERS;
    case 'SupportedAddon': return ADDONS;
    case 'ProgrammingLanguageName': return p.language.Name;
    case 'OperatingSystemName': return p.os.name;
    default: throw new EbApiError('InvalidParameterValue', `Invalid filter type '${type}'.`);
  }
}

export function branchFilterValue(p: Platform, attribute: string): string | string[] | undefined {
  switch (attribute) {
    case 'PlatformName': return p.language.Name;
    case 'BranchName': return p.branch;
    case 'LifecycleState': return p.branchState;
    case 'TierType': return ['WebServer', 'Worker'];
    default: throw new EbApiError('InvalidParameterValue', `Invalid filter attribute '${attribute}'.`);
  }
}
