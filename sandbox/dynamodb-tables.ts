// A new DynamoDB table is not usable at once (aws-rules.md R63): "CreateTable is an
// asynchronous operation. Upon receiving a CreateTable request, DynamoDB immediately returns
// a response with a TableStatus of CREATING. After the table is created, DynamoDB sets the
// TableStatus to ACTIVE. You can perform read and write operations only on an ACTIVE table"
// (DynamoDB API reference, CreateTable). A read or write before then is refused with
// ResourceNotFoundException, whose documentation says "The resource might not be specified
// correctly, or its status might not be ACTIVE" (botocore's model, dynamodb 2012-08-10).
// moto makes every table ACTIVE at once; the front keeps a new one CREATING for
// --table-create-delay, answering DescribeTable with that status and refusing the rest.
import { crc32 } from 'node:zlib';

/** A DynamoDB answer as the front sends it (the shape of front.ts's Answer, as Ec2Answer and DenialAnswer are). */
export interface DynamoAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/** Operations on a table's items, refused while it is CREATING. */
const DATA_OPERATIONS = new Set([
  'GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan',
  'BatchGetItem', 'BatchWriteItem', 'TransactGetItems', 'TransactWriteItems',
]);

/** A DynamoDB request's JSON body; {} for a CBOR or malformed one (its tables are then unknown). */
export function dynamoRequest(body: Buffer): Record<string, any> {
  try {
    return JSON.parse(body.toString('utf8') || '{}') ?? {};
  } catch {
    return {};
  }
}

/** The tables one request names: TableName, or the keys of RequestItems, or each transact item's. */
export function tablesOf(op: string, body: Record<string, any>): string[] {
  if (typeof body.TableName === 'string') return [body.TableName];
  if (op === 'BatchGetItem' || op === 'BatchWriteItem') return Object.keys(body.RequestItems ?? {});
  if (op === 'TransactWriteItems' || op === 'TransactGetItems') {
    return (body.TransactItems ?? []).flatMap((t: Record<string, any>) => Object.values(t).map((a: any) => a?.TableName).filter((n: unknown) => typeof n === 'string'));
  }
  return [];
}

/**
 * A rewritten DynamoDB answer keeps a true x-amz-crc32: botocore checks DynamoDB's body
 * against it and sends the request again on a mismatch (a second CreateTable would then
 * say the table exists).
 */
function withBody(answer: DynamoAnswer, body: Buffer): DynamoAnswer {
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => k.toLowerCase() !== 'x-amz-crc32'));
  return { ...answer, headers: { ...headers, 'x-amz-crc32': String(crc32(body)) }, body };
}

const json = (status: number, body: unknown): DynamoAnswer => withBody({ status, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Buffer.alloc(0) }, Buffer.from(JSON.stringify(body)));

export class CreatingTables {
  /** Table name → when it becomes ACTIVE (ms). */
  private readonly until = new Map<string, number>();

  constructor(private readonly delayMs: number) {}

  private creating(name: string): boolean {
    const t = this.until.get(name);
    if (t === undefined) return false;
    if (Date.now() < t) return true;
    this.until.delete(name);
    return false;
  }

  /** Before moto: a data operation on a table still CREATING is refused, as DynamoDB does. */
  refuse(op: string, body: Record<string, any>): DynamoAnswer | undefined {
    if (!DATA_OPERATIONS.has(op)) return undefined;
    if (!tablesOf(op, body).some((n) => this.creating(n))) return undefined;
    return json(400, { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' });
  }

  /** After moto: a table it just made starts CREATING; DescribeTable says so until it is ACTIVE. */
  observe(op: string, body: Record<string, any>, answer: DynamoAnswer): DynamoAnswer {
    if (answer.status !== 200 || !(this.delayMs > 0)) return answer;
    const name = typeof body.TableName === 'string' ? body.TableName : undefined;
    if (!name) return answer;
    const key = op === 'CreateTable' ? 'TableDescription' : op === 'DescribeTable' ? 'Table' : undefined;
    if (!key) return answer;
    if (op === 'CreateTable') this.until.set(name, Date.now() + this.delayMs);
    if (!this.creating(name)) return answer;
    const parsed = JSON.parse(answer.body.toString('utf8'));
    if (parsed?.[key]) parsed[key].TableStatus = 'CREATING';
    return withBody(answer, Buffer.from(JSON.stringify(parsed)));
  }
}
