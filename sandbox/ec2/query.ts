// The front's own EC2 Query API calls to moto (to check a rule, or to finish what AWS
// finishes by itself), and the XML both ways. moto does not check signatures; it reads the
// region from the credential scope, so each call carries the client's Authorization header.
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, isArray: (name) => name === 'item' });
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false });

export function parseXml(xml: string): any {
  return parser.parse(xml);
}

export function buildXml(doc: object): string {
  return builder.build(doc);
}

/** The `<item>` list of a set element, however moto spelled an empty one. */
export function items(set: unknown): any[] {
  return set && typeof set === 'object' && Array.isArray((set as { item?: unknown }).item) ? (set as { item: any[] }).item : [];
}

export interface Ec2Answer {
  status: number;
  contentType: string;
  body: string;
}

/** An EC2 error as AWS sends it (Query protocol, `<Response><Errors>`). */
export function ec2Error(code: string, message: string, status = 400): Ec2Answer {
  const esc = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return {
    status,
    contentType: 'text/xml;charset=UTF-8',
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${esc}</Message></Error></Errors><RequestID>${crypto.randomUUID()}</RequestID></Response>`,
  };
}

export type Ec2Query = (params: Record<string, string>) => Promise<any>;

/** One call to moto's EC2; answers the parsed `<XxxResponse>` element, throws with moto's text. */
export function motoEc2(motoPort: number, authorization: string): Ec2Query {
  return async (params) => {
    const res = await fetch(`http://127.0.0.1:${motoPort}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
      body: new URLSearchParams({ Version: '2016-11-15', ...params }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`moto ${params.Action}: ${text}`);
    return parseXml(text)[`${params.Action}Response`] ?? {};
  };
}

/** `Filter.1.Name=<name>&Filter.1.Value.1=<value>` for one filter. */
export function filter(name: string, ...values: string[]): Record<string, string> {
  const out: Record<string, string> = { 'Filter.1.Name': name };
  values.forEach((v, i) => (out[`Filter.1.Value.${i + 1}`] = v));
  return out;
}

/** The Filter.N parameters of a request, as {name, values}. */
export function filtersOf(form: URLSearchParams): { name: string; values: string[] }[] {
  const out: { name: string; values: string[] }[] = [];
  for (let n = 1; form.has(`Filter.${n}.Name`); n++) {
    const values: string[] = [];
    for (let v = 1; form.has(`Filter.${n}.Value.${v}`); v++) values.push(form.get(`Filter.${n}.Value.${v}`)!);
    out.push({ name: form.get(`Filter.${n}.Name`)!, values });
  }
  return out;
}

/** Numbered list parameters (`NatGatewayId.1`, `NatGatewayId.2`, ...). */
export function listOf(form: URLSearchParams, prefix: string): string[] {
  const out: string[] = [];
  for (let n = 1; form.has(`${prefix}.${n}`); n++) out.push(form.get(`${prefix}.${n}`)!);
  return out;
}
