import { randomUUID } from 'node:crypto';
import type { ServiceModel, Shape } from './model.js';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function scalar(shape: Shape, value: unknown, skewMs: number): string {
  if (shape.type === 'timestamp') return new Date((value instanceof Date ? value : new Date(String(value))).getTime() + skewMs).toISOString();
  if (shape.type === 'boolean') return value ? 'true' : 'false';
  return escape(String(value));
}

/**
 * Writes `value` as the Query protocol's XML for `shapeName`: structure members in model
 * order, lists as `<member>` items, maps as `<entry><key/><value/></entry>`. A key that the
 * shape does not have is a bug in the emulator, so it throws rather than being dropped.
 * The emulator keeps this machine's time; every timestamp leaves in AWS's, `skewMs` ahead
 * (--clock-skew, R103).
 */
export function serializeShape(model: ServiceModel, shapeName: string, value: unknown, skewMs = 0): string {
  const shape = model.shapes[shapeName];
  if (!shape) throw new Error(`unknown shape ${shapeName}`);
  if (shape.type === 'structure') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!shape.members?.[key]) throw new Error(`shape ${shapeName} has no member ${key}`);
    }
    return Object.entries(shape.members ?? {})
      .filter(([name]) => record[name] !== undefined)
      .map(([name, member]) => {
        const tag = member.locationName ?? name;
        return `<${tag}>${serializeShape(model, member.shape, record[name], skewMs)}</${tag}>`;
      })
      .join('');
  }
  if (shape.type === 'list') {
    const tag = shape.member!.locationName ?? 'member';
    return (value as unknown[]).map((item) => `<${tag}>${serializeShape(model, shape.member!.shape, item, skewMs)}</${tag}>`).join('');
  }
  if (shape.type === 'map') {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, item]) => `<entry><key>${escape(key)}</key><value>${serializeShape(model, shape.value!.shape, item, skewMs)}</value></entry>`)
      .join('');
  }
  return scalar(shape, value, skewMs);
}

/** `<XxxResponse><XxxResult>...</XxxResult><ResponseMetadata>...` as EB answers an action. */
export function successResponse(model: ServiceModel, action: string, result: unknown, requestId: string = randomUUID(), skewMs = 0): string {
  const operation = model.operations[action];
  const namespace = model.metadata.xmlNamespace;
  const output = operation.output
    ? `<${operation.output.resultWrapper}>${serializeShape(model, operation.output.shape, result ?? {}, skewMs)}</${operation.output.resultWrapper}>`
    : '';
  return `<${action}Response xmlns="${namespace}">${output}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
}

export function errorResponse(code: string, message: string, type: 'Sender' | 'Receiver' = 'Sender', requestId: string = randomUUID()): string {
  return `<ErrorResponse xmlns="http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/"><Error><Type>${type}</Type><Code>${escape(code)}</Code><Message>${escape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}
