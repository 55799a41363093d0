import { EbApiError } from './errors.js';

/** Reads Query-protocol parameters: `Name`, `Name.member.N`, `Name.member.N.Field`. */
export class QueryParams {
  /**
   * `requestId`: the id this request is answered with (ResponseMetadata), which its events carry.
   * `skewMs`: how far AWS's clock is ahead of this machine's (--clock-skew, R103); a caller's
   * times are in AWS's, the emulator's in this machine's.
   */
  constructor(private readonly params: URLSearchParams, readonly requestId = '', private readonly skewMs = 0) {}

  string(name: string): string | undefined {
    const value = this.params.get(name);
    return value === null || value === '' ? undefined : value;
  }

  required(name: string): string {
    const value = this.string(name);
    if (value === undefined) throw new EbApiError('MissingParameter', `The request must contain the parameter ${name}`);
    return value;
  }

  boolean(name: string): boolean | undefined {
    const value = this.string(name);
    return value === undefined ? undefined : value.toLowerCase() === 'true';
  }

  integer(name: string): number | undefined {
    const value = this.string(name);
    return value === undefined ? undefined : Number.parseInt(value, 10);
  }

  date(name: string): Date | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    // botocore sends ISO 8601; a bare number is epoch seconds.
    const date = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
    if (Number.isNaN(date.getTime())) throw new EbApiError('InvalidParameterValue', `Invalid date for ${name}: ${value}`);
    return new Date(date.getTime() - this.skewMs);
  }

  private indexes(prefix: string): number[] {
    const found = new Set<number>();
    for (const key of this.params.keys()) {
      const match = key.startsWith(prefix) ? /^(\d+)/.exec(key.slice(prefix.length)) : null;
      if (match) found.add(Number(match[1]));
    }
    return [...found].sort((a, b) => a - b);
  }

  /** `Name.member.N.Field.member.M` lists inside a list of structures (filters' Values). */
  nestedList(name: string, index: number, field: string): string[] {
    return this.list(`${name}.member.${index}.${field}`);
  }

  /** The N of every `Name.member.N...` given. */
  memberIndexes(name: string): number[] {
    return this.indexes(`${name}.member.`);
  }

  list(name: string): string[] {
    return this.indexes(`${name}.member.`).map((index) => this.params.get(`${name}.member.${index}`) ?? '');
  }

  structList<K extends string>(name: string, fields: readonly K[]): Array<Partial<Record<K, string>>> {
    return this.indexes(`${name}.member.`).map((index) => {
      const item: Partial<Record<K, string>> = {};
      for (const field of fields) {
        const value = this.params.get(`${name}.member.${index}.${field}`);
        if (value !== null) item[field] = value;
      }
      return item;
    });
  }
}
