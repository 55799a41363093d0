import { describe, expect, it } from 'vitest';
import { healthCheckPath, mergeOptionSettings } from '../../sandbox/eb/environments.js';
import { isKnownStack, platformArn } from '../../sandbox/eb/solution-stacks.js';

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
