// STS through the aws CLI: who the credentials belong to.
import type { AwsCall } from './cli.js';

/** The account the credentials act in. */
export async function callerAccount(call: AwsCall): Promise<string | undefined> {
  const r = await call<{ Account?: string }>(['sts', 'get-caller-identity']);
  return r.Account;
}
