// `eb list` and `eb status` answer in text; --json gives them structured.
import { describe, expect, it } from 'vitest';
import { parseEbList, parseEbStatus } from '../../src/aws/eb-output.js';

describe('parseEbList', () => {
  it('reads the names and the `* ` marked current one', () => {
    expect(parseEbList('* nova-1470577190\n  nova-1470573984\n')).toEqual({ environments: ['nova-1470577190', 'nova-1470573984'], current: 'nova-1470577190' });
  });

  it('the marker on a later line', () => {
    expect(parseEbList('  dv-nova-1\n* dv-nova-2\n  dv-nova-3\n')).toEqual({ environments: ['dv-nova-1', 'dv-nova-2', 'dv-nova-3'], current: 'dv-nova-2' });
  });

  it('without any marker (no environment selected for the folder): no current', () => {
    const r = parseEbList('nova-1470577190\nnova-1470573984\n');
    expect(r).toEqual({ environments: ['nova-1470577190', 'nova-1470573984'] });
    expect('current' in r).toBe(false);
  });

  it('trailing blank lines and whitespace-only lines are skipped', () => {
    expect(parseEbList('* nova-a\n  nova-b\n\n\n   \n')).toEqual({ environments: ['nova-a', 'nova-b'], current: 'nova-a' });
  });

  it('Windows line endings', () => {
    expect(parseEbList('* nova-a\r\n  nova-b\r\n\r\n')).toEqual({ environments: ['nova-a', 'nova-b'], current: 'nova-a' });
  });

  it('empty output: no environments', () => {
    expect(parseEbList('')).toEqual({ environments: [] });
    expect(parseEbList('\n\n')).toEqual({ environments: [] });
  });

  it('skips lines that are not an environment (a warning, a sentence)', () => {
    const text = 'WARNING: Beanstalk configuration header \'1.0\' is deprecated\n* nova-a\n  nova-b\n';
    expect(parseEbList(text)).toEqual({ environments: ['nova-a', 'nova-b'], current: 'nova-a' });
  });
});

// As printed by the EB CLI 3.x (ebcli/operations/statusops.py): a header, then
// two-space indented "Key: value" lines.
const STATUS = [
  'Environment details for: nova-1470577190',
  '  Application name: dv',
  '  Region: ap-northeast-2',
  '  Deployed Version: app-160807_134429',
  '  Environment ID: e-mpcuqzwfds',
  '  Platform: arn:aws:elasticbeanstalk:ap-northeast-2::platform/Node.js 20 running on 64bit Amazon Linux 2023/6.1.5',
  '  Tier: WebServer-Standard-1.0',
  '  CNAME: dv-nova.ap-northeast-2.elasticbeanstalk.com',
  '  Updated: 2016-08-07 13:44:29.123000+00:00',
  '  Status: Ready',
  '  Health: Green',
  '',
].join('\n');

describe('parseEbStatus', () => {
  it('reads the header and every key, values kept whole (colons in ARNs and times)', () => {
    expect(parseEbStatus(STATUS)).toEqual({
      Environment: 'nova-1470577190',
      'Application name': 'dv',
      Region: 'ap-northeast-2',
      'Deployed Version': 'app-160807_134429',
      'Environment ID': 'e-mpcuqzwfds',
      Platform: 'arn:aws:elasticbeanstalk:ap-northeast-2::platform/Node.js 20 running on 64bit Amazon Linux 2023/6.1.5',
      Tier: 'WebServer-Standard-1.0',
      CNAME: 'dv-nova.ap-northeast-2.elasticbeanstalk.com',
      Updated: '2016-08-07 13:44:29.123000+00:00',
      Status: 'Ready',
      Health: 'Green',
    });
  });

  it('CNAME: UNKNOWN (no CNAME yet) is null', () => {
    const r = parseEbStatus(STATUS.replace('  CNAME: dv-nova.ap-northeast-2.elasticbeanstalk.com', '  CNAME: UNKNOWN'));
    expect(r.CNAME).toBeNull();
    expect(r.Status).toBe('Ready');
  });

  it('Windows line endings', () => {
    const r = parseEbStatus(STATUS.replace(/\n/g, '\r\n'));
    expect(r.Environment).toBe('nova-1470577190');
    expect(r.Health).toBe('Green');
    expect(r.Updated).toBe('2016-08-07 13:44:29.123000+00:00');
  });

  it('a key with no value opens a block of the deeper-indented lines after it', () => {
    const text = [
      'Environment details for: nova-1',
      '  Application name: dv',
      '  Health: Red',
      '  Causes:',
      '    Instance: i-0abc123',
      '    Reason: 100.0 % of the requests are failing with HTTP 5xx.',
      '  Status: Ready',
      '',
    ].join('\n');
    expect(parseEbStatus(text)).toEqual({
      Environment: 'nova-1',
      'Application name': 'dv',
      Health: 'Red',
      Causes: { Instance: 'i-0abc123', Reason: '100.0 % of the requests are failing with HTTP 5xx.' },
      Status: 'Ready',
    });
  });

  it('a block at the end of the output and an empty block', () => {
    const r = parseEbStatus('Environment details for: e\n  Empty:\n  Tags:\n    team: core\n    cost: a:b\n');
    expect(r).toEqual({ Environment: 'e', Empty: {}, Tags: { team: 'core', cost: 'a:b' } });
  });

  it('ignores lines that are not "key: value" and leading blank lines', () => {
    const r = parseEbStatus('\n\nAlert: An update to the EB CLI is available\nEnvironment details for: e\n  just words\n  Status: Ready\n');
    expect(r).toMatchObject({ Environment: 'e', Status: 'Ready' });
    expect(Object.keys(r)).not.toContain('just words');
  });
});
