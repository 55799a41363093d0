import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface FaultAnswer {
  status: number;
  contentType: string;
  body: string;
}

function isJsonProtocol(req: IncomingMessage): boolean {
  return String(req.headers['content-type'] ?? '').startsWith('application/x-amz-json') || req.headers['x-amz-target'] !== undefined;
}

/** The throttling error each service answers with, in that service's own protocol. */
export function throttlingAnswer(service: string, req: IncomingMessage): FaultAnswer {
  const requestId = randomUUID();
  if (service === 's3') {
    return {
      status: 503,
      contentType: 'application/xml',
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>${requestId}</RequestId></Error>`,
    };
  }
  if (service === 'ec2') {
    return {
      status: 503,
      contentType: 'text/xml',
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`,
    };
  }
  if (isJsonProtocol(req)) {
    return {
      status: 400,
      contentType: 'application/x-amz-json-1.0',
      body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }),
    };
  }
  return {
    status: 400,
    contentType: 'text/xml',
    body: `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}
