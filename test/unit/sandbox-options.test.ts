import { describe, expect, it } from 'vitest';
import { healthCheckPath, mergeOptionSettings } from '../../sandbox/eb/environments.js';
import { isKnownStack, platformArn } from '../../sandbox/eb/solution-stacks.js';
import { optionType, valueProblem } from '../../sandbox/eb/options-catalog.js';
import { yamlProblem } from '../../sandbox/eb/ebextensions.js';
import { parseSshRestriction } from '../../sandbox/eb/ec2-side-effects.js';
import { checkOptionSettings } from '../../sandbox/eb/validate.js';

const setting = (Namespace: string, OptionName: string, Value: string) => ({ Namespace, OptionName, Value });

describe('healthCheckPath', () => {
  it('defaults to / and accepts both the path and the classic PROTOCOL:PORT/path form', () => {
    expect(healthCheckPath([])).toBe('/');
    expect(healthCheckPath([setting('aws:elasticbeanstalk:application', 'Application Healthcheck URL', '/echo/')])).toBe('/echo/');
    expect(healthCheckPath([setting('aws:elasticbeanstalk:application', 'Application Healthcheck URL', 'HTTP:80/echo/')])).toBe('/echo/');
    expect(healthCheckPath([setting('aws:elasticbeanstalk:environment:process:default', 'HealthCheckPath', 'health')])).toBe('/health');
  });
});

describe('mergeOptionSettings', () => {
  it('replaces a setting with the same namespace and name, and removes what is asked', () => {
    const current = [setting('env', 'A', '1'), setting('env', 'B', '2'), setting('other', 'A', '3')];
    const merged = mergeOptionSettings(current, [setting('env', 'A', 'new'), setting('env', 'C', '4')], [{ Namespace: 'env', OptionName: 'B' }]);
    expect(merged).toEqual([setting('env', 'A', 'new'), setting('other', 'A', '3'), setting('env', 'C', '4')]);
  });
});

describe('solution stacks', () => {
  it('knows its Node.js stacks and derives their platform ARN', () => {
    expect(isKnownStack('64bit Amazon Linux 2023 v6.6.3 running Node.js 20')).toBe(true);
    expect(isKnownStack('64bit Amazon Linux 2023 v6.6.3 running Node.js 99')).toBe(false);
    expect(platformArn('ap-northeast-2', '64bit Amazon Linux 2023 v6.6.3 running Node.js 20')).toBe(
      'arn:aws:elasticbeanstalk:ap-northeast-2::platform/Node.js 20 running on 64bit Amazon Linux 2023/6.6.3',
    );
  });
});

describe('the option catalogue (R10)', () => {
  it('knows the documented options, refuses others, and any name in the free namespaces', () => {
    expect(optionType('aws:ec2:vpc', 'ELBSubnets')).toEqual({ kind: 'list' });
    expect(optionType('aws:ec2:vpc', 'ElbSubnets')).toBeUndefined();
    expect(optionType('aws:elasticbeanstalk:container:nodejs', 'NodeCommand')).toBeUndefined();
    expect(optionType('aws:elasticbeanstalk:application:environment', 'ANY_NAME')).toEqual({ kind: 'string' });
  });

  it('checks types and ranges', () => {
    expect(valueProblem({ kind: 'int', min: 1, max: 10000 }, '4')).toBeUndefined();
    expect(valueProblem({ kind: 'int', min: 1, max: 10000 }, '0')).toBe('Value must be between 1 and 10000.');
    expect(valueProblem({ kind: 'int', min: 1, max: 10000 }, '1.5')).toBe('Value is not an integer.');
    expect(valueProblem({ kind: 'bool' }, 'TRUE')).toBeUndefined();
    expect(valueProblem({ kind: 'bool' }, 'yes')).toBe('Value must be true or false.');
    expect(valueProblem({ kind: 'enum', values: ['public', 'internal'] }, 'private')).toBe('Value must be one of: public, internal.');
  });

  it('accepts what the daily deploy sends, and refuses MinSize above MaxSize', () => {
    const ok = [setting('aws:autoscaling:asg', 'MinSize', '1'), setting('aws:autoscaling:asg', 'MaxSize', '2'), setting('aws:elbv2:loadbalancer', 'ManagedSecurityGroup', 'sg-1')];
    expect(() => checkOptionSettings(ok)).not.toThrow();
    expect(() => checkOptionSettings([setting('aws:autoscaling:asg', 'MinSize', '3'), setting('aws:autoscaling:asg', 'MaxSize', '2')])).toThrow(/MinSize must be less than or equal to MaxSize/);
  });
});

describe('.ebextensions as EB reads them', () => {
  it('accepts YAML config files as EB documents them', () => {
    const good = [
      'option_settings:\n  aws:elasticbeanstalk:application:environment:\n    NODE_ENV: production\n',
      'files:\n  "/etc/x.conf":\n    mode: "000644"\n    content: |\n      a: b\n        deeper: still text\ncommands:\n  01_x:\n    command: echo "hi"\n',
      'option_settings:\n  - namespace: aws:elasticbeanstalk:cloudwatch:logs\n    option_name: StreamLogs\n    value: true\n',
    ];
    for (const text of good) expect(yamlProblem(text), text).toBeUndefined();
  });

  it('finds the faults EB reports', () => {
    expect(yamlProblem('option_settings:\n    aws:elasticbeanstalk:cloudwatch:logs\n        option_name: StreamLogs\n')).toMatch(/mapping values are not allowed here/);
    expect(yamlProblem('files:\n\t"/x": {}\n')).toMatch(/cannot start any token/);
    expect(yamlProblem('<xml>not yaml</xml>\n')).toMatch(/could not find expected ':'/);
    expect(yamlProblem('a: [1, 2\n')).toMatch(/did not find expected end of flow/);
  });
});

describe('SSHSourceRestriction', () => {
  it('reads protocol, ports and source; unset means the world on 22', () => {
    expect(parseSshRestriction('tcp, 22, 22, 10.0.0.0/16')).toEqual({ protocol: 'tcp', from: 22, to: 22, source: '10.0.0.0/16' });
    expect(parseSshRestriction(undefined)).toEqual({ protocol: 'tcp', from: 22, to: 22, source: '0.0.0.0/0' });
  });
});
