// S3 through the aws CLI: the one upload the deploy makes.
import type { AwsCall } from './cli.js';

/** Upload a local file as s3://bucket/key. */
export async function putObject(call: AwsCall, bucket: string, key: string, file: string): Promise<void> {
  await call(['s3api', 'put-object', '--bucket', bucket, '--key', key, '--body', file]);
}
