// How each service says "not authorised" (aws-rules.md R33). The message text is IAM's:
// "User: <principal> is not authorized to perform: <action> on resource: <arn> because no
// identity-based policy allows the <action> action" (or "with an explicit deny in an
// identity-based policy") — IAM User Guide, "Troubleshoot access denied error messages"
// (troubleshoot_access-denied.html). The code, status and envelope are each service's own.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface Denial {
  principal: string;
  action: string;
  resource: string;
  explicit: boolean;
  /** The deny statement (an explicit deny) as "policy name, statement Sid or index". */
  deniedBy?: string;
}

export interface DenialAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** IAM's wording of a denial (troubleshoot_access-denied.html). */
export function denialMessage(d: Denial): string {
  const on = d.resource === '*' ? '' : ` on resource: ${d.resource}`;
  const why = d.explicit ? 'with an explicit deny in an identity-based policy' : `because no identity-based policy allows the ${d.action} action`;
  return `User: ${d.principal} is not authorized to perform: ${d.action}${on} ${why}`;
}

/**
 * EC2's "encoded authorization failure message": on AWS an opaque blob that
 * `sts decode-authorization-message` decodes to the request's context (EC2 API reference,
 * "Error codes", UnauthorizedOperation; STS API reference, DecodeAuthorizationMessage). Here
 * it is the same facts, base64url JSON, so a test can read it; its contents are not AWS's.
 */
export function encodeFailure(d: Denial): string {
  const context = { principal: { arn: d.principal }, action: d.action, resource: d.resource };
  return Buffer.from(JSON.stringify({ allowed: false, explicitDeny: d.explicit, matchedStatements: { items: [] }, failures: { items: [] }, context })).toString('base64url');
}

function queryError(namespace: string, status: number, code: string, message: string): DenialAnswer {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: Buffer.from(`<ErrorResponse xmlns="${namespace}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`),
  };
}

/** The answer `service` gives a denied request, in its own protocol. */
export function denialAnswer(service: string, headers: IncomingHttpHeaders, url: string, d: Denial): DenialAnswer {
  const message = denialMessage(d);
  switch (service) {
    case 'ec2':
      // EC2: UnauthorizedOperation, HTTP 403, "You are not authorized to perform this
      // operation." with the encoded message (EC2 API reference, "Error codes").
      return {
        status: 403,
        headers: { 'content-type': 'text/xml' },
        body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>${xml(`You are not authorized to perform this operation. ${message}. Encoded authorization failure message: ${encodeFailure(d)}`)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`),
      };
    case 'iam':
      // IAM and STS: AccessDenied, HTTP 403 (IAM API reference, "Common errors": AccessDenied 400/403; STS likewise).
      return queryError('https://iam.amazonaws.com/doc/2010-05-08/', 403, 'AccessDenied', message);
    case 'sts':
      return queryError('https://sts.amazonaws.com/doc/2011-06-15/', 403, 'AccessDenied', message);
    case 'elasticbeanstalk':
      // EB: AccessDenied, HTTP 403, IAM's wording (seen from EB: "Status Code: 403; Error
      // Code: AccessDenied", jenkinsci/aws-beanstalk-publisher-plugin#10).
      return queryError('http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/', 403, 'AccessDenied', message);
    case 'monitoring':
      // CloudWatch: AccessDenied, HTTP 403 ("AccessDenied: User: ... is not authorized to
      // perform: cloudwatch:ListMetrics / status code: 403",
      // prometheus-community/yet-another-cloudwatch-exporter#57). Over the JSON protocol the
      // Query code comes in x-amzn-query-error (the model's awsQueryCompatible trait).
      if (headers['x-amz-target'] !== undefined || String(headers['content-type'] ?? '').includes('json')) {
        return {
          status: 403,
          headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-query-error': 'AccessDenied;Sender' },
          body: Buffer.from(JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', message })),
        };
      }
      if (/\/operation\//.test(url)) return cborError(message);
      return queryError('http://monitoring.amazonaws.com/doc/2010-08-01/', 403, 'AccessDenied', message);
    case 'dynamodb':
      // DynamoDB: AccessDeniedException, HTTP 400 (DynamoDB API reference, "Common errors":
      // AccessDeniedException, "HTTP Status Code: 400").
      return {
        status: 400,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: Buffer.from(JSON.stringify({ __type: 'com.amazon.coral.service#AccessDeniedException', Message: message })),
      };
    case 's3':
      // S3: AccessDenied, HTTP 403; since 2023 the message carries IAM's wording (S3 User
      // Guide, "Troubleshoot access denied (403 Forbidden) errors in Amazon S3").
      return {
        status: 403,
        headers: { 'content-type': 'application/xml' },
        body: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${xml(message)}</Message><RequestId>${randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()}</RequestId><HostId>${Buffer.from(randomUUID()).toString('base64')}</HostId></Error>`),
      };
    default:
      return queryError(`https://${service}.amazonaws.com/`, 403, 'AccessDenied', message);
  }
}

/**
 * smithy-rpc-v2-cbor (CloudWatch's first protocol in current botocore): the error is a CBOR
 * map {__type, message}, with the Query code in x-amzn-query-error. A map of text strings is
 * all it takes, so it is encoded here (RFC 8949 §3.1: major type 5 map, 3 text string).
 */
function cborError(message: string): DenialAnswer {
  const head = (major: number, n: number): Buffer => {
    if (n < 24) return Buffer.from([(major << 5) | n]);
    if (n < 256) return Buffer.from([(major << 5) | 24, n]);
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(n, 1);
    return b;
  };
  const text = (s: string) => {
    const bytes = Buffer.from(s, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  };
  const body = Buffer.concat([head(5, 2), text('__type'), text('com.amazon.coral.service#AccessDeniedException'), text('message'), text(message)]);
  return { status: 403, headers: { 'content-type': 'application/cbor', 'smithy-protocol': 'rpc-v2-cbor', 'x-amzn-query-error': 'AccessDenied;Sender' }, body };
}
