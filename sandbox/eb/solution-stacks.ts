/**
 * A small, plausible catalogue: the newest Node.js stacks first, as EB lists them, plus a few
 * others. Three Node.js branches: a newer one (Node.js 24) that a daily deploy must report but
 * not take, and an older one (Node.js 18 on Amazon Linux 2) with two versions, so that "keep
 * the live branch, take its newest version" can be seen to work.
 */
export const SOLUTION_STACKS: Array<{ name: string; fileTypes: string[] }> = [
  { name: '64bit Amazon Linux 2023 v6.7.0 running Node.js 24', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2023 v6.6.3 running Node.js 22', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2023 v6.6.3 running Node.js 20', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2023 v6.6.2 running Node.js 22', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2023 v6.6.2 running Node.js 20', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2023 v6.5.1 running Node.js 20', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2 v5.10.2 running Node.js 18', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2 v5.10.1 running Node.js 18', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2023 v4.7.1 running Python 3.12', fileTypes: ['zip'] },
  { name: '64bit Amazon Linux 2023 v4.6.0 running Docker', fileTypes: ['json', 'zip'] },
];

export function isKnownStack(name: string): boolean {
  return SOLUTION_STACKS.some((stack) => stack.name === name);
}

/** `64bit Amazon Linux 2023 v6.6.3 running Node.js 20` -> its platform ARN, as EB reports it. */
export function platformArn(region: string, stackName: string): string | undefined {
  const match = /^64bit (.+) v(\d+\.\d+\.\d+) running (.+)$/.exec(stackName);
  return match ? `arn:aws:elasticbeanstalk:${region}::platform/${match[3]} running on 64bit ${match[1]}/${match[2]}` : undefined;
}
