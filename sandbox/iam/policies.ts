// The caller's identity policies in the sandbox (issue 18; aws-rules.md R30). By default the
// caller holds exactly what the README tells users to attach: the managed policy
// AdministratorAccess-AWSElasticBeanstalk (its current published version, stored beside this
// file with its version and source) plus examples/iam-policy.json. `admin` allows everything;
// it is never the default.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface IdentityPolicy {
  /** The name a denial and a grant hint show: the file, or the managed policy's name and version. */
  name: string;
  policy: { Version?: string; Statement: PolicyStatement | PolicyStatement[] };
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** The value of --policies / the `policies` config key that allows every request. */
export const ADMIN = 'admin';

/** The repository root, from dist/sandbox/iam/ or sandbox/iam/ (vitest runs the sources). */
const ROOT = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${'/dist/'}`) ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
})();

export const MANAGED_POLICY_FILE = resolve(ROOT, 'sandbox', 'iam', 'AdministratorAccess-AWSElasticBeanstalk.json');
export const EXAMPLE_POLICY_FILE = resolve(ROOT, 'examples', 'iam-policy.json');
/** The documented set, as `--policies` would name it. */
export const DEFAULT_POLICY_FILES = [MANAGED_POLICY_FILE, EXAMPLE_POLICY_FILE];

/** One policy file: a plain policy document, or the stored managed policy (its `Document`). */
export function readPolicyFile(file: string): IdentityPolicy {
  const path = resolve(file);
  let json: any;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`policy file ${path}: ${(error as Error).message}`);
  }
  if (json && typeof json === 'object' && json.Document) {
    return { name: `${json.PolicyName ?? path} (${json.VersionId ?? 'unknown version'})`, policy: json.Document };
  }
  if (!json || typeof json !== 'object' || !('Statement' in json)) throw new Error(`policy file ${path}: not an IAM policy document (no "Statement")`);
  return { name: path, policy: json };
}

/**
 * The caller's policies from the flag's list: undefined or empty → the documented set;
 * ['admin'] → undefined (every request allowed); otherwise each file.
 */
export function loadPolicies(files: string[] | undefined): IdentityPolicy[] | undefined {
  const list = files && files.length ? files : DEFAULT_POLICY_FILES;
  if (list.includes(ADMIN)) {
    if (list.length > 1) throw new Error(`policies: "${ADMIN}" allows everything and cannot be combined with files (${list.join(', ')})`);
    return undefined;
  }
  return list.map(readPolicyFile);
}

export function statementsOf(policy: IdentityPolicy): PolicyStatement[] {
  const s = policy.policy.Statement;
  return Array.isArray(s) ? s : [s];
}
