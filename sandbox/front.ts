import { createServer, request, Agent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { throttlingAnswer } from './faults.js';
import type { IamPropagation } from './iam-propagation.js';
import type { StrictOptions } from './server.js';
import { deletedResourceParam, dropSubnetAssociations, forgetTags, keyPairId } from './moto-fixes.js';

export interface FrontOptions {
  motoPort: number;
  failRate: number;
  strict: StrictOptions;
  /** Where IAM creates are noted, so EC2 and EB see them only after the propagation delay. */
  iam: IamPropagation;
  /** Answers one elasticbeanstalk Query API request (the form-encoded body). */
  elasticBeanstalk(params: URLSearchParams): Promise<{ status: number; body: string }>;
  status(): unknown;
  /** The compiled instance logs at the URLs RetrieveEnvironmentInfo hands out (eb/environment-info.ts). */
  logs?(url: string): { status: number; contentType: string; body: Buffer };
}

/**
 * The service a request is meant for, from its SigV4 credential scope
 * (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`), in the Authorization header or,
 * for presigned URLs, in the X-Amz-Credential query parameter.
 */
export function serviceOf(req: IncomingMessage): string | undefined {
  const scope = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''));
  if (scope) return scope[1];
  const presigned = new URL(req.url ?? '/', 'http://sandbox').searchParams.get('X-Amz-Credential');
  return presigned?.split('/')[3];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Streams the request to moto unchanged and its answer back unchanged. */
function proxyToMoto(req: IncomingMessage, res: ServerResponse, motoPort: number, agent: Agent): void {
  const upstream = request(
    { host: '127.0.0.1', port: motoPort, method: req.method, path: req.url, headers: req.headers, agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
    },
  );
  upstream.on('error', (error) => {
    if (!res.headersSent) send(res, 502, 'text/plain', `sandbox: moto is not answering: ${error.message}\n`);
    else res.destroy();
  });
  req.pipe(upstream);
}

/**
 * EC2 requests go to moto with their body read first, so that once moto has deleted a
 * resource, what AWS would drop with it goes too (moto-fixes.ts says what and why).
 */
async function proxyEc2(req: IncomingMessage, res: ServerResponse, motoPort: number, agent: Agent): Promise<void> {
  const body = await readBody(req);
  const form = new URLSearchParams(body);
  const auth = String(req.headers.authorization ?? '');
  const param = deletedResourceParam(form.get('Action'));
  let id = param ? form.get(param) : null;
  if (!id && form.get('Action') === 'DeleteKeyPair' && form.get('KeyName')) id = (await keyPairId(motoPort, auth, form.get('KeyName')!)) ?? null;
  const upstream = request({ host: '127.0.0.1', port: motoPort, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
    const chunks: Buffer[] = [];
    answer.on('data', (c: Buffer) => chunks.push(c));
    answer.on('end', () => {
      const done = () => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        res.end(Buffer.concat(chunks));
      };
      if (id && answer.statusCode === 200) {
        const subnetGone = form.get('Action') === 'DeleteSubnet' ? dropSubnetAssociations(motoPort, auth, id) : Promise.resolve();
        subnetGone.then(() => forgetTags(motoPort, auth, id!)).then(done, done);
      } else done();
    });
  });
  upstream.on('error', (error) => send(res, 502, 'text/plain', `sandbox: moto is not answering: ${error.message}\n`));
  upstream.end(body);
}

export function createFront(options: FrontOptions): Server {
  const agent = new Agent({ keepAlive: true });
  return createServer((req, res) => {
    if (req.url?.startsWith('/_sandbox/status')) {
      send(res, 200, 'application/json', JSON.stringify(options.status()));
      return;
    }
    if (req.url?.startsWith('/_sandbox/logs/') && options.logs) {
      const answer = options.logs(req.url);
      res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': answer.body.length });
      res.end(answer.body);
      return;
    }
    const service = serviceOf(req) ?? 's3';
    if (options.failRate > 0 && Math.random() < options.failRate) {
      const fault = throttlingAnswer(service, req);
      req.resume();
      send(res, fault.status, fault.contentType, fault.body);
      return;
    }
    if (service === 'ec2' && req.method === 'POST') {
      proxyEc2(req, res, options.motoPort, agent).catch((error: Error) => send(res, 500, 'text/plain', `sandbox: ${error.message}\n`));
      return;
    }
    if (service !== 'elasticbeanstalk') {
      proxyToMoto(req, res, options.motoPort, agent);
      return;
    }
    readBody(req)
      .then((body) => options.elasticBeanstalk(new URLSearchParams(body)))
      .then(({ status, body }) => send(res, status, 'text/xml', body))
      .catch((error: Error) => send(res, 500, 'text/plain', `sandbox: ${error.stack ?? error.message}\n`));
  });
}
