import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createFront } from './front.js';
import { startMoto } from './moto.js';
import { MotoClient } from './moto-client.js';
import { createRouter, startBackgroundTraffic } from './router.js';
import { ElasticBeanstalkApi } from './eb/api.js';
import { EnvironmentLifecycle } from './eb/environments.js';
import { EnvironmentInfo } from './eb/environment-info.js';
import { loadElasticBeanstalkModel } from './eb/model.js';
import { EbStore } from './eb/store.js';
import { RequestMetrics } from './eb/request-metrics.js';
import { IamPropagation } from './iam-propagation.js';
import { STRICT_DEFAULTS, type SandboxDelays, type StrictOptions } from './options.js';
import { IamGate } from './iam/gate.js';
import { loadPolicies } from './iam/policies.js';


export interface SandboxOptions {
  /** 0 picks a free port. */
  port: number;
  /** 0 picks a free port. */
  routerPort: number;
  host?: '127.0.0.1';
  /** The fraction of API requests answered with the service's throttling error. */
  failRate?: number;
  stateDir: string;
  region?: string;
  delays?: SandboxDelays;
  /** Tunes the strict rules' delays and faults; unset fields take STRICT_DEFAULTS. */
  strict?: Partial<StrictOptions>;
}

export interface Sandbox {
  endpoint: string;
  router: string;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Starts moto, the EB emulator behind the front endpoint, and the CNAME router, all in this process. */
export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? 'ap-northeast-2';
  const failRate = options.failRate ?? 0;
  if (!(failRate >= 0 && failRate <= 1)) throw new Error(`failRate must be between 0 and 1, got ${failRate}`);
  const strict: StrictOptions = { ...STRICT_DEFAULTS, ...options.strict };
  if (!(strict.loseResponses >= 0 && strict.loseResponses <= 1)) throw new Error(`loseResponses must be between 0 and 1, got ${strict.loseResponses}`);
  if (!(strict.rateScale > 0)) throw new Error(`rateScale must be more than 0, got ${strict.rateScale}`);
  if (!(strict.metricsPeriodMs > 0)) throw new Error(`metricsPeriodMs must be more than 0, got ${strict.metricsPeriodMs}`);
  if (!(strict.metricsLagMs >= 0)) throw new Error(`metricsLagMs must be 0 or more, got ${strict.metricsLagMs}`);
  if (!(strict.eventRetentionMs > 0)) throw new Error(`eventRetentionMs must be more than 0, got ${strict.eventRetentionMs}`);
  if (!Number.isFinite(strict.clockSkewMs)) throw new Error(`clockSkewMs must be a number, got ${strict.clockSkewMs}`);
  mkdirSync(options.stateDir, { recursive: true });
  const iam = new IamPropagation(strict.iamDelayMs);
  // Read before anything starts, so a bad policy file fails the start at once.
  loadPolicies(strict.policies);
  const model = loadElasticBeanstalkModel();
  const moto = await startMoto(join(options.stateDir, 'moto.log'));
  const motoClient = new MotoClient(moto.port, region);
  const gate = IamGate.fromFiles(strict.policies, motoClient, region);
  const store = new EbStore(region);
  const lifecycle = new EnvironmentLifecycle(store, motoClient, options.stateDir, {
    launchMs: options.delays?.launchMs ?? 1500,
    swapMs: options.delays?.swapMs ?? 500,
    terminateMs: options.delays?.terminateMs ?? 1000,
    launchTimeoutMs: options.delays?.launchTimeoutMs ?? 20_000,
    stopGraceMs: 3000,
    healthIntervalMs: 1000,
  });
  // Its URLs point at the front, whose address is known once it listens (below).
  const info = new EnvironmentInfo(store, { stateDir: options.stateDir, endpoint: () => endpoint });
  const metrics = new RequestMetrics(store, motoClient, strict.metricsPeriodMs, strict.metricsLagMs);
  lifecycle.stackPermissions = (environment) => gate.stackDenials(environment);
  const api = new ElasticBeanstalkApi(model, store, lifecycle, motoClient, info, iam, strict, metrics);

  let endpoint = '';
  let router = '';
  const front = createFront({
    motoPort: moto.port,
    failRate,
    strict,
    iam,
    elasticBeanstalk: (params) => api.handle(params),
    iamGate: gate,
    logs: (url) => info.serve(url),
    status: () => ({
      pid: process.pid,
      strict,
      policies: gate.describe(),
      endpoint,
      router,
      motoPort: moto.port,
      motoPid: moto.pid,
      motoServer: moto.bin,
      environments: store.environments.map((environment) => ({
        name: environment.name,
        application: environment.applicationName,
        id: environment.id,
        cname: environment.cname,
        status: environment.status,
        health: environment.health,
        port: environment.app?.port,
        pid: environment.app?.pid,
      })),
    }),
  });
  const routerServer = createRouter(store, strict, metrics);
  let stage = `the endpoint's port ${options.port}`;
  try {
    endpoint = `http://${host}:${await listen(front.server, options.port, host)}`;
    stage = `the router's port ${options.routerPort}`;
    router = `${host}:${await listen(routerServer, options.routerPort, host)}`;
    metrics.start();
  } catch (error) {
    // A failed start leaves nothing listening (issue 20 item 16: the front stayed up when the
    // router's port was taken), and says which port.
    if (front.server.listening) await closeServer(front.server);
    front.close();
    await lifecycle.close();
    await moto.stop();
    const e = error as NodeJS.ErrnoException;
    throw e.code === 'EADDRINUSE' ? new Error(`${stage} on ${host} is taken by another process; free it or choose another port (--port, --router-port)`) : error;
  }

  if (!(strict.backgroundPerMinute >= 0)) throw new Error(`backgroundPerMinute must be 0 or more, got ${strict.backgroundPerMinute}`);
  const background = strict.backgroundPerMinute > 0 ? startBackgroundTraffic(store, strict.backgroundPerMinute, metrics) : undefined;
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    router,
    close: () =>
      (closing ??= (async () => {
        background?.stop();
        await Promise.all([closeServer(front.server), closeServer(routerServer)]);
        await metrics.close();
        front.close();
        await lifecycle.close();
        await moto.stop();
      })()),
  };
}
