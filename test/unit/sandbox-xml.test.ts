import { describe, expect, it } from 'vitest';
import type { ServiceModel } from '../../sandbox/eb/model.js';
import { errorResponse, serializeShape, successResponse } from '../../sandbox/eb/xml.js';

// A slice of botocore's EB model, enough to pin the Query protocol's rules.
const model: ServiceModel = {
  metadata: { xmlNamespace: 'http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/' },
  operations: {
    DescribeEnvironments: { name: 'DescribeEnvironments', output: { shape: 'Message', resultWrapper: 'DescribeEnvironmentsResult' } },
    SwapEnvironmentCNAMEs: { name: 'SwapEnvironmentCNAMEs' },
  },
  shapes: {
    Message: { type: 'structure', members: { Environments: { shape: 'List' }, NextToken: { shape: 'String' } } },
    List: { type: 'list', member: { shape: 'Env' } },
    Env: { type: 'structure', members: { Name: { shape: 'String' }, Created: { shape: 'Date' }, Busy: { shape: 'Bool' }, Tags: { shape: 'Map' } } },
    Map: { type: 'map', key: { shape: 'String' }, value: { shape: 'String' } },
    String: { type: 'string' },
    Date: { type: 'timestamp' },
    Bool: { type: 'boolean' },
  },
};

describe('serializeShape', () => {
  it('writes members in model order, lists as <member>, maps as <entry>, and skips undefined', () => {
    const xml = serializeShape(model, 'Message', {
      NextToken: undefined,
      Environments: [{ Tags: { a: '1' }, Busy: false, Created: new Date('2025-01-02T03:04:05Z'), Name: 'a<b' }],
    });
    expect(xml).toBe(
      '<Environments><member><Name>a&lt;b</Name><Created>2025-01-02T03:04:05.000Z</Created><Busy>false</Busy>' +
        '<Tags><entry><key>a</key><value>1</value></entry></Tags></member></Environments>',
    );
  });

  it('refuses a key the shape does not have, so a typo cannot vanish silently', () => {
    expect(() => serializeShape(model, 'Env', { Nmae: 'x' })).toThrow('shape Env has no member Nmae');
  });
});

describe('responses', () => {
  it('wraps a result in XxxResponse/XxxResult with a request id', () => {
    const xml = successResponse(model, 'DescribeEnvironments', { Environments: [] });
    expect(xml).toMatch(
      /^<DescribeEnvironmentsResponse xmlns="[^"]+"><DescribeEnvironmentsResult><Environments><\/Environments><\/DescribeEnvironmentsResult><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/DescribeEnvironmentsResponse>$/,
    );
  });

  it('answers an action without output with the metadata only', () => {
    expect(successResponse(model, 'SwapEnvironmentCNAMEs', undefined)).toMatch(/^<SwapEnvironmentCNAMEsResponse [^>]+><ResponseMetadata>/);
  });

  it('writes the ErrorResponse the aws CLI reads the code and message from', () => {
    expect(errorResponse('InvalidParameterValue', "No Environment found for EnvironmentName = 'x'.")).toMatch(
      /<ErrorResponse [^>]+><Error><Type>Sender<\/Type><Code>InvalidParameterValue<\/Code><Message>No Environment found for EnvironmentName = 'x'.<\/Message><\/Error><RequestId>/,
    );
  });
});

// Found by the real EB CLI (issue 25): `eb health` reads ConfigurationSettings' Tier, which EB
// answers and the EB CLI's own model names, though botocore's does not.
describe("DescribeConfigurationSettings with the EB CLI's Tier", () => {
  it('serializes Tier after Description, as the EB CLI model orders it', async () => {
    const { loadElasticBeanstalkModel } = await import('../../sandbox/eb/model.js');
    const real = loadElasticBeanstalkModel();
    const xml = successResponse(real, 'DescribeConfigurationSettings', {
      ConfigurationSettings: [{ ApplicationName: 'dv', Description: 'd', Tier: { Name: 'WebServer', Type: 'Standard', Version: '1.0' }, EnvironmentName: 'nova-1' }],
    });
    expect(xml).toContain('<Description>d</Description><Tier><Name>WebServer</Name><Type>Standard</Type><Version>1.0</Version></Tier><EnvironmentName>nova-1</EnvironmentName>');
  });
});
