// R1 (aws-rules.md): a NAT gateway's lifecycle as AWS runs it, over moto's, which makes a
// NAT `available` at once, never fails, and on delete says `deleted` at once while keeping
// its interface and Elastic IP association forever.
//
// AWS (EC2 API CreateNatGateway / DeleteNatGateway / DescribeNatGateways; VPC guide, "NAT
// gateways": https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html):
// - a new NAT is `pending`, then `available` after minutes (here: natDelayMs);
// - created in a VPC with no attached internet gateway, the create succeeds and the NAT
//   ends `failed`, FailureCode `Gateway.NotAttached`, FailureMessage
//   "Network vpc-<id> has no Internet gateway attached";
// - delete: `deleting`, then `deleted` after the same delay; until then its interface and
//   Elastic IP stay in use (so ReleaseAddress, DeleteSubnet, DetachInternetGateway refuse);
// - a failed or deleted NAT lets go of its interface and address.
// The front asks here for the state it shows, and moto keeps everything else.
import { buildXml, ec2Error, filter, filtersOf, items, listOf, type Ec2Answer, type Ec2Query } from './query.js';

type State = 'pending' | 'available' | 'failed' | 'deleting' | 'deleted';

interface NatRecord {
  id: string;
  vpcId: string;
  subnetId: string;
  allocationId?: string;
  associationId?: string;
  eniId?: string;
  /** The VPC had no attached internet gateway when it was created. */
  failing: boolean;
  state: State;
}

/** The filters AWS's DescribeNatGateways knows (API reference, "Filter.N"). */
const KNOWN_FILTERS = new Set(['nat-gateway-id', 'state', 'subnet-id', 'vpc-id', 'tag-key']);

export class NatGateways {
  private readonly nats = new Map<string, NatRecord>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly delayMs: number) {}

  /** The NAT that holds this Elastic IP right now (pending, available or deleting), if any. */
  holderOf(allocationId: string): string | undefined {
    for (const n of this.nats.values()) if (n.allocationId === allocationId && ['pending', 'available', 'deleting'].includes(n.state)) return n.id;
    return undefined;
  }

  /** NATs of the VPC that still count as its dependents (anything not deleted). */
  liveIn(vpcId: string): string[] {
    return [...this.nats.values()].filter((n) => n.vpcId === vpcId && n.state !== 'deleted').map((n) => n.id);
  }

  known(id: string): boolean {
    return this.nats.has(id);
  }

  /** moto created it (and made it `available`): start AWS's clock. */
  async created(q: Ec2Query, answer: any): Promise<void> {
    const nat = answer?.natGateway;
    if (!nat?.natGatewayId) return;
    const address = items(nat.natGatewayAddressSet)[0] ?? {};
    const igws = await q({ Action: 'DescribeInternetGateways', ...filter('attachment.vpc-id', nat.vpcId) });
    const rec: NatRecord = {
      id: nat.natGatewayId,
      vpcId: nat.vpcId,
      subnetId: nat.subnetId,
      allocationId: address.allocationId,
      associationId: address.associationId,
      eniId: address.networkInterfaceId,
      failing: items(igws.internetGatewaySet).length === 0,
      state: 'pending',
    };
    this.nats.set(rec.id, rec);
    this.later(async () => {
      if (rec.state !== 'pending') return;
      if (!rec.failing) {
        rec.state = 'available';
        return;
      }
      await this.letGo(q, rec);
      if (rec.state === 'pending') rec.state = 'failed';
    });
  }

  /** Before moto sees a DeleteNatGateway: AWS's answer for an id it does not know. */
  async checkDelete(q: Ec2Query, id: string): Promise<Ec2Answer | undefined> {
    if (this.nats.has(id)) return undefined;
    const found = await q({ Action: 'DescribeNatGateways', 'NatGatewayId.1': id });
    // moto answers an unknown id with an HTTP 500; AWS with NatGatewayNotFound.
    if (items(found.natGatewaySet).length === 0) return ec2Error('NatGatewayNotFound', `NAT gateway ${id} was not found`);
    return undefined;
  }

  /** moto marked it deleted: show `deleting` for the delay, then let go of its address and interface. */
  deleted(q: Ec2Query, id: string): void {
    const rec = this.nats.get(id);
    if (!rec || rec.state === 'deleting' || rec.state === 'deleted') return;
    const wasFailed = rec.state === 'failed';
    rec.state = 'deleting';
    this.later(async () => {
      if (!wasFailed) await this.letGo(q, rec);
      rec.state = 'deleted';
    });
  }

  /** DescribeNatGateways, answered by the front: moto's NATs with AWS's states and filters. */
  async describe(q: Ec2Query, form: URLSearchParams): Promise<Ec2Answer> {
    const filters = filtersOf(form);
    const unknown = filters.find((f) => !KNOWN_FILTERS.has(f.name) && !f.name.startsWith('tag:'));
    // R7: AWS refuses a filter it does not know; moto ignores it (and every tag filter).
    if (unknown) return ec2Error('InvalidParameterValue', `The filter '${unknown.name}' is invalid`);
    const params: Record<string, string> = { Action: 'DescribeNatGateways' };
    listOf(form, 'NatGatewayId').forEach((id, i) => (params[`NatGatewayId.${i + 1}`] = id));
    const answer = await q(params);
    const out = items(answer.natGatewaySet)
      .map((nat) => this.overlay(nat))
      .filter((nat) => filters.every((f) => matches(nat, f.name, f.values)));
    const body = buildXml({
      '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
      DescribeNatGatewaysResponse: { '@_xmlns': 'http://ec2.amazonaws.com/doc/2016-11-15/', requestId: crypto.randomUUID(), natGatewaySet: out.length ? { item: out } : '' },
    });
    return { status: 200, contentType: 'text/xml;charset=UTF-8', body };
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private overlay(nat: any): any {
    const rec = this.nats.get(nat.natGatewayId);
    if (!rec) return nat;
    const out = { ...nat, state: rec.state };
    if (rec.state === 'failed' || (rec.failing && rec.state !== 'pending')) {
      out.failureCode = 'Gateway.NotAttached';
      out.failureMessage = `Network ${rec.vpcId} has no Internet gateway attached`;
    }
    if (rec.state === 'deleted' || rec.state === 'failed') {
      // The address went back to the account: only the allocation id stays on record.
      out.natGatewayAddressSet = { item: items(nat.natGatewayAddressSet).map((a: any) => ({ allocationId: a.allocationId })) };
    }
    return out;
  }

  /** What AWS does when a NAT fails or is deleted: its Elastic IP and interface are freed. */
  private async letGo(q: Ec2Query, rec: NatRecord): Promise<void> {
    if (rec.associationId) await q({ Action: 'DisassociateAddress', AssociationId: rec.associationId }).catch(() => undefined);
    if (rec.eniId) await q({ Action: 'DeleteNetworkInterface', NetworkInterfaceId: rec.eniId }).catch(() => undefined);
  }

  private later(fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn().catch(() => undefined);
    }, this.delayMs);
    t.unref();
    this.timers.add(t);
  }
}

function matches(nat: any, name: string, values: string[]): boolean {
  const tags = items(nat.tagSet) as { key: string; value: string }[];
  if (name === 'nat-gateway-id') return values.includes(nat.natGatewayId);
  if (name === 'state') return values.includes(nat.state);
  if (name === 'subnet-id') return values.includes(nat.subnetId);
  if (name === 'vpc-id') return values.includes(nat.vpcId);
  if (name === 'tag-key') return tags.some((t) => values.includes(t.key));
  if (name.startsWith('tag:')) return tags.some((t) => t.key === name.slice(4) && values.includes(t.value ?? ''));
  return true;
}
