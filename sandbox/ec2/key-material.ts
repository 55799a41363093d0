// ImportKeyPair: EC2 takes one OpenSSH public key, RSA (1024 to 4096 bits) or ED25519, and
// answers anything else with InvalidKey.Format "Key is not in valid OpenSSH public key format"
// (aws-rules.md R70; the code and text as EC2 answers them in aws/aws-sdk-js #314,
// trailofbits/algo #376). moto imports any text. Written apart from the tool's own check
// (src/config/public-key.ts) on purpose: the sandbox must not agree with a bug in the tool.
import { ec2Error, type Ec2Answer } from './query.js';

function field(b: Buffer, at: number): [Buffer, number] | undefined {
  if (at + 4 > b.length) return undefined;
  const n = b.readUInt32BE(at);
  if (at + 4 + n > b.length) return undefined;
  return [b.subarray(at + 4, at + 4 + n), at + 4 + n];
}

function isPublicKey(text: string): boolean {
  const m = /^(ssh-rsa|ssh-ed25519) ([A-Za-z0-9+/]+={0,2})(?: [\x20-\x7e]*)?$/.exec(text.trim());
  if (!m) return false;
  const blob = Buffer.from(m[2], 'base64');
  if (blob.toString('base64') !== m[2]) return false;
  const parts: Buffer[] = [];
  for (let at = 0; at < blob.length; ) {
    const f = field(blob, at);
    if (!f) return false;
    parts.push(f[0]);
    at = f[1];
  }
  if (parts[0]?.toString('latin1') !== m[1]) return false;
  if (m[1] === 'ssh-ed25519') return parts.length === 2 && parts[1].length === 32;
  if (parts.length !== 3) return false;
  const n = parts[2][0] === 0 ? parts[2].length - 1 : parts[2].length;
  return n * 8 >= 1024 && n * 8 <= 4096;
}

/** The refusal for ImportKeyPair's PublicKeyMaterial (base64 of the key file, as the Query API carries it). */
export function importKeyPairRefusal(form: URLSearchParams): Ec2Answer | undefined {
  const material = Buffer.from(form.get('PublicKeyMaterial') ?? '', 'base64').toString('utf8');
  if (isPublicKey(material)) return undefined;
  return ec2Error('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');
}
