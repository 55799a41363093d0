import { randomUUID } from 'node:crypto';
import { createServer, request, Agent, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { throttlingAnswer } from './faults.js';
import { RateLimits } from './rate-limits.js';
import type { IamPropagation } from './iam-propagation.js';
import type { StrictOptions } from './options.js';
import { deletedResourceParam, dropSubnetAssociations, forgetTags, keyPairId, launchTemplateId } from './moto-fixes.js';
import { Ec2Rules } from './ec2/rules.js';
import { CreatingTables, dynamoRequest } from './dynamodb-tables.js';
import { motoEc2 } from './ec2/query.js';

export interface FrontOptions {
  motoPort: number;
  failRate: number;
  strict: StrictOptions;
  /** Where IAM creates are noted, so EC2 and EB see them only after the propagation delay. */
  iam: IamPropagation;
  /** Answers one elasticbeanstalk Query API request (the form-encoded body). */
  elasticBeanstalk(params: URLSearchParams): Promise<{ status: number; body: string }>;
  status(): unknown;
  /** The caller's IAM policies (sandbox/iam/gate.ts): a denied request gets its service's denial. */
  iamGate?: { authorize(service: string, req: IncomingMessage, body: Buffer): Promise<Answer | undefined> };
  /** The compiled instance logs at the URLs RetrieveEnvironmentInfo hands out (eb/environment-info.ts). */
  logs?(url: string): { status: number; contentType: string; body: Buffer };
}

/** The faults the front injected so far: tests prove with these that the faults were there. */
export interface FaultCounters {
  /** Requests answered with the service's throttling error (--fail-rate). */
  throttled: number;
  /** Mutating requests performed and then answered by a dropped connection (--lose-responses). */
  lost: number;
}

export interface Front {
  server: Server;
  faults: FaultCounters;
  close(): void;
}

/**
 * The service a request is meant for, from its SigV4 credential scope
 * (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`), in the Authorization header or,
 * for presigned URLs, in the X-Amz-Credential query parameter.
 */
export function serviceOf(req: Pick<IncomingMessage, 'headers' | 'url'>): string | undefined {
  const scope = /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''));
  if (scope) return scope[1];
  const presigned = new URL(req.url ?? '/', 'http://sandbox').searchParams.get('X-Amz-Credential');
  return presigned?.split('/')[3];
}

const QUERY_SERVICES = new Set(['ec2', 'iam', 'sts', 'elasticbeanstalk']);

/**
 * Whether a request changes something: Query APIs by Action, DynamoDB by its target,
 * S3 by method. Reads are never "lost": a lost read is only a slow one.
 */
export function isMutatingRequest(service: string, method: string, headers: IncomingHttpHeaders, body: string): boolean {
  if (QUERY_SERVICES.has(service)) {
    const action = new URLSearchParams(body).get('Action') ?? '';
    return action !== '' && !/^(Describe|List|Get|Check|Validate|Lookup)/.test(action);
  }
  if (service === 'dynamodb') {
    const op = String(headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    return op !== '' && !/^(Get|BatchGet|Query|Scan|Describe|List)/.test(op);
  }
  return ['PUT', 'POST', 'DELETE'].includes(method);
}

/** `amz-sdk-request: attempt=2; max=3` → {attempt: 2, max: 3}. */
export function attemptOf(headers: IncomingHttpHeaders): { attempt: number; max?: number } {
  const h = String(headers['amz-sdk-request'] ?? '');
  const attempt = Number(/attempt=(\d+)/.exec(h)?.[1] ?? 1);
  const max = /max=(\d+)/.exec(h)?.[1];
  return { attempt, max: max ? Number(max) : undefined };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const text = (status: number, contentType: string, body: string): Answer => ({ status, headers: { 'content-type': contentType }, body: Buffer.from(body) });

/**
 * The header that carries --clock-skew to moto (sandbox/python/sitecustomize.py): CloudWatch
 * reads a caller's times, and answers its own, in AWS's time (R103).
 */
const SKEW_HEADER = 'x-johanna-clock-skew-ms';

/** One request to moto, its whole answer read (the front may still drop or rewrite it). */
function askMoto(req: IncomingMessage, body: Buffer, motoPort: number, agent: Agent, skewMs = 0): Promise<Answer> {
  return new Promise((resolve) => {
    const headers = skewMs ? { ...req.headers, [SKEW_HEADER]: String(skewMs) } : req.headers;
    const upstream = request({ host: '127.0.0.1', port: motoPort, method: req.method, path: req.url, headers, agent }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const headers: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(answer.headers)) {
          if (v === undefined || k === 'transfer-encoding' || k === 'connection' || k === 'keep-alive') continue;
          if (k === 'content-length' && req.method !== 'HEAD') continue;
          headers[k] = v;
        }
        resolve({ status: answer.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
      });
    });
    upstream.on('error', (error) => resolve(text(502, 'text/plain', `sandbox: moto is not answering: ${error.message}\n`)));
    upstream.end(body);
  });
}

/**
 * EC2: AWS's rules first (sandbox/ec2/rules.ts), then moto; once moto has deleted a
 * resource, what AWS would drop with it goes too (moto-fixes.ts says what and why).
 */
async function answerEc2(req: IncomingMessage, body: Buffer, motoPort: number, agent: Agent, rules: Ec2Rules): Promise<Answer> {
  const form = new URLSearchParams(body.toString('utf8'));
  const auth = String(req.headers.authorization ?? '');
  const q = motoEc2(motoPort, auth);
  const refused = await rules.before(q, form);
  if (refused) return text(refused.status, refused.contentType, refused.body);
  const param = deletedResourceParam(form.get('Action'));
  let id = param ? form.get(param) : null;
  if (!id && form.get('Action') === 'DeleteKeyPair' && form.get('KeyName')) id = (await keyPairId(motoPort, auth, form.get('KeyName')!)) ?? null;
  if (!id && form.get('Action') === 'DeleteLaunchTemplate' && form.get('LaunchTemplateName')) id = (await launchTemplateId(motoPort, auth, form.get('LaunchTemplateName')!)) ?? null;
  const moto = await askMoto(req, body, motoPort, agent);
  const contentType = String(moto.headers['content-type'] ?? 'text/xml');
  const seen = await rules.after(q, form, { status: moto.status, contentType, body: moto.body.toString('utf8') });
  if (id && moto.status === 200) {
    if (form.get('Action') === 'DeleteSubnet') await dropSubnetAssociations(motoPort, auth, id);
    await forgetTags(motoPort, auth, id);
  }
  return seen.body === moto.body.toString('utf8') ? moto : text(seen.status, seen.contentType, seen.body);
}

export function createFront(options: FrontOptions): Front {
  const agent = new Agent({ keepAlive: true });
  const rules = new Ec2Rules(options.strict.natDelayMs, options.iam);
  const tables = new CreatingTables(options.strict.tableCreateMs ?? 0);
  const faults: FaultCounters = { throttled: 0, lost: 0 };
  const rates = new RateLimits(options.strict.rateScale ?? 1); // R90–R95: AWS's rate limits, always on
  /** One lost answer per call at most (the same invocation id on every attempt), so a call with three attempts always gets through. */
  const lostCalls = new Set<string>();

  /**
   * R17 (aws-rules.md): a network fault after AWS performed a request; the client sees a
   * closed connection and retries the identical request (botocore's retry handler; AWS
   * CLI retries guide, https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-retries.html).
   */
  const loseThis = (service: string, req: IncomingMessage, body: Buffer): boolean => {
    if (!(options.strict.loseResponses > 0) || Math.random() >= options.strict.loseResponses) return false;
    if (!isMutatingRequest(service, req.method ?? 'GET', req.headers, body.toString('utf8'))) return false;
    const { attempt, max } = attemptOf(req.headers);
    if (max !== undefined && attempt >= max) return false;
    const call = String(req.headers['amz-sdk-invocation-id'] ?? '');
    if (!call || lostCalls.has(call)) return false;
    lostCalls.add(call);
    return true;
  };

  const answer = async (service: string, req: IncomingMessage, body: Buffer): Promise<Answer> => {
    const denied = await options.iamGate?.authorize(service, req, body);
    if (denied) return denied;
    if (service === 'ec2' && req.method === 'POST') return answerEc2(req, body, options.motoPort, agent, rules);
    if (service === 'elasticbeanstalk') {
      const eb = await options.elasticBeanstalk(new URLSearchParams(body.toString('utf8')));
      return text(eb.status, 'text/xml', eb.body);
    }
    if (service === 'dynamodb') {
      // A new table is CREATING for --table-create-delay, as on AWS (R63).
      const op = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      const request = dynamoRequest(body);
      const refused = tables.refuse(op, request);
      if (refused) return refused;
      return tables.observe(op, request, await askMoto(req, body, options.motoPort, agent, options.strict.clockSkewMs));
    }
    const moto = await askMoto(req, body, options.motoPort, agent, options.strict.clockSkewMs);
    noteIam(service, body, moto, options.iam);
    return iamRoleNotInProfile(service, body, moto) ?? moto;
  };

  /**
   * AWS's clock, --clock-skew ahead of this machine's: every answer's Date header says it
   * (RFC 9110 §6.6.1: the time the answer was made, by the server's clock; R103).
   */
  const awsDate = () => new Date(Date.now() + (options.strict.clockSkewMs ?? 0)).toUTCString();

  const server = createServer((req, res) => {
    res.setHeader('date', awsDate());
    if (req.url?.startsWith('/_sandbox/status')) {
      const body = JSON.stringify({ ...(options.status() as object), faults, rates: rates.counts });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (req.url?.startsWith('/_sandbox/logs/') && options.logs) {
      const answer = options.logs(req.url);
      res.writeHead(answer.status, { 'content-type': answer.contentType, 'content-length': answer.body.length });
      res.end(answer.body);
      return;
    }
    const service = serviceOf(req) ?? 's3';
    readBody(req)
      .then(async (body) => {
        if (options.failRate > 0 && Math.random() < options.failRate) {
          faults.throttled++;
          const fault = throttlingAnswer(service, req);
          return { lost: false, a: text(fault.status, fault.contentType, fault.body) };
        }
        const limited = rates.check(service, req, body);
        if (limited) return { lost: false, a: text(limited.status, limited.contentType, limited.body) };
        const a = await answer(service, req, body);
        return { lost: a.status < 500 && loseThis(service, req, body), a };
      })
      .then(({ lost, a }) => {
        if (lost) {
          faults.lost++;
          req.socket.destroy();
          return;
        }
        if (req.method !== 'HEAD') a.headers['content-length'] = String(a.body.length);
        // moto's own Date is this machine's time: AWS's replaces it.
        for (const k of Object.keys(a.headers)) if (k.toLowerCase() === 'date') delete a.headers[k];
        res.writeHead(a.status, a.headers);
        res.end(req.method === 'HEAD' ? undefined : a.body);
      })
      .catch((error: Error) => {
        if (res.headersSent) return void res.destroy();
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`sandbox: ${error.stack ?? error.message}\n`);
      });
  });
  return { server, faults, close: () => rules.close() };
}

/**
 * IAM creates that moto accepted start their propagation window (R8): EC2 and EB see them
 * only `iamDelayMs` later (sandbox/iam-propagation.ts).
 */
function noteIam(service: string, body: Buffer, answer: Answer, iam: IamPropagation): void {
  if (service !== 'iam' || answer.status !== 200) return;
  const form = new URLSearchParams(body.toString('utf8'));
  const action = form.get('Action');
  if (action === 'CreateRole') iam.noteCreated('role', form.get('RoleName') ?? '');
  if (action === 'CreateInstanceProfile') iam.noteCreated('instance-profile', form.get('InstanceProfileName') ?? '');
  if (action === 'AddRoleToInstanceProfile') iam.noteCreated('instance-profile-role', form.get('InstanceProfileName') ?? '');
  if (action === 'DeleteRole') iam.noteDeleted('role', form.get('RoleName') ?? '');
  if (action === 'DeleteInstanceProfile') iam.noteDeleted('instance-profile', form.get('InstanceProfileName') ?? '');
}

/**
 * moto answers HTTP 500 (a Python exception) to RemoveRoleFromInstanceProfile for a role the
 * profile does not hold, which is what a retried request meets after its answer was lost
 * (R17). IAM answers NoSuchEntity (HTTP 404), as for every missing IAM entity (IAM API
 * reference, RemoveRoleFromInstanceProfile, Errors: NoSuchEntity; the message text is
 * unconfirmed).
 */
function iamRoleNotInProfile(service: string, body: Buffer, answer: Answer): Answer | undefined {
  if (service !== 'iam' || answer.status !== 500) return undefined;
  const form = new URLSearchParams(body.toString('utf8'));
  if (form.get('Action') !== 'RemoveRoleFromInstanceProfile') return undefined;
  const message = `The role with name ${form.get('RoleName') ?? ''} cannot be found in instance profile ${form.get('InstanceProfileName') ?? ''}.`;
  return text(
    404,
    'text/xml',
    `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );
}
