import { describe, expect, it } from 'vitest';
import { QueryParams } from '../../sandbox/eb/params.js';

const params = (query: string) => new QueryParams(new URLSearchParams(query));

describe('QueryParams', () => {
  it('reads member lists in index order, not in the order they arrive', () => {
    expect(params('EnvironmentNames.member.2=b&EnvironmentNames.member.10=c&EnvironmentNames.member.1=a').list('EnvironmentNames')).toEqual(['a', 'b', 'c']);
    expect(params('').list('EnvironmentNames')).toEqual([]);
  });

  it('reads lists of structures field by field', () => {
    const query =
      'OptionSettings.member.1.Namespace=aws%3Aec2%3Avpc&OptionSettings.member.1.OptionName=VPCId&OptionSettings.member.1.Value=vpc-1' +
      '&OptionSettings.member.2.Namespace=ns&OptionSettings.member.2.OptionName=Empty';
    expect(params(query).structList('OptionSettings', ['Namespace', 'OptionName', 'Value'])).toEqual([
      { Namespace: 'aws:ec2:vpc', OptionName: 'VPCId', Value: 'vpc-1' },
      { Namespace: 'ns', OptionName: 'Empty' },
    ]);
  });

  it('reads booleans, integers and both date forms', () => {
    const p = params('IncludeDeleted=false&MaxRecords=5&StartTime=2025-01-02T03%3A04%3A05Z&EndTime=1735787045');
    expect(p.boolean('IncludeDeleted')).toBe(false);
    expect(p.boolean('Missing')).toBeUndefined();
    expect(p.integer('MaxRecords')).toBe(5);
    expect(p.date('StartTime')?.toISOString()).toBe('2025-01-02T03:04:05.000Z');
    expect(p.date('EndTime')?.toISOString()).toBe('2025-01-02T03:04:05.000Z');
  });

  it('names a missing required parameter', () => {
    expect(() => params('').required('ApplicationName')).toThrow('The request must contain the parameter ApplicationName');
  });
});
