// One OpenSSH public key, checked by what it holds rather than by how it looks: the text
// after "ssh-ed25519 " or "ssh-rsa " must decode to exactly one public key of the type it
// names (RFC 4253 section 6.6, RFC 8709 section 4). Before, any base64 after the type passed,
// so the body of a private key ("b3BlbnNzaC1rZXktdjEA...", "openssh-key-v1") was written to
// key.pub and sent to import-key-pair. No message here ever repeats the value.
//
// EC2 imports RSA (1024 to 4096 bits) and ED25519 keys in OpenSSH public key format (EC2 User
// Guide, "Create a key pair using a third-party tool and import the public key"; aws-rules.md
// R70). The sandbox refuses the rest as EC2 does: InvalidKey.Format.

/** A 4096-bit RSA line is about 750 characters; 8 KiB leaves room for a long comment. */
export const MAX_PUBLIC_KEY_CHARS = 8192;
const RSA_BITS = { min: 1024, max: 4096 };

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

/** The SSH wire format's fields: uint32 length, then that many bytes. */
function fields(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  for (let at = 0; at < blob.length; ) {
    if (at + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(at);
    if (at + 4 + len > blob.length) return undefined;
    out.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return out;
}

/** Bits of an unsigned mpint (a leading zero byte keeps it positive). */
function bits(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i]));
}

/** Why `blob` is not one public key of `type`, or undefined when it is. */
function blobProblem(type: string, base64: string): string | undefined {
  if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return 'the text after the key type is not base64';
  const blob = Buffer.from(base64, 'base64');
  if (blob.toString('base64') !== base64) return 'the text after the key type is not base64';
  if (blob.subarray(0, 14).toString('latin1') === 'openssh-key-v1') {
    return `this is a private key's body after "${type}": expected only the OpenSSH public key (the one line of your .pub file); remove the private key from the config`;
  }
  const f = fields(blob);
  if (!f || f.length === 0) return `the text after "${type}" is not an OpenSSH public key (it does not decode to one)`;
  const named = f[0].toString('latin1');
  if (named !== type) {
    return `the key type "${type}" does not match the key it names (it decodes to ${/^[\x20-\x7e]{1,40}$/.test(named) ? `"${named}"` : 'something else'})`;
  }
  if (type === 'ssh-ed25519') {
    if (f.length !== 2 || f[1].length !== 32) return 'not one ED25519 public key (expected a 32-byte key and nothing more)';
    return undefined;
  }
  if (f.length !== 3) return 'not one RSA public key (expected an exponent and a modulus and nothing more)';
  const n = bits(f[2]);
  if (bits(f[1]) === 0 || n < RSA_BITS.min || n > RSA_BITS.max) return `an RSA key of ${n} bits; EC2 imports RSA keys of ${RSA_BITS.min} to ${RSA_BITS.max} bits`;
  return undefined;
}

/** Why `v` is not exactly one OpenSSH RSA or ED25519 public key, or undefined when it is. */
export function publicKeyProblem(v: string): string | undefined {
  if (/PRIVATE KEY/.test(v)) return 'this holds a private key: expected only the OpenSSH public key, not a private key (the one line of your .pub file); remove the private key from the config';
  if (v.length > MAX_PUBLIC_KEY_CHARS) return `${v.length} characters; one OpenSSH public key is at most ${MAX_PUBLIC_KEY_CHARS} (the one line of your .pub file)`;
  const text = v.trim();
  if (/[\r\n]/.test(text)) return 'expected exactly one OpenSSH public key on one line (the content of your .pub file)';
  if (CONTROL.test(text)) return 'holds a control character; expected one OpenSSH public key (the one line of your .pub file)';
  const m = /^(\S+) (\S+)(?: (.*))?$/.exec(text);
  if (!m || (m[1] !== 'ssh-rsa' && m[1] !== 'ssh-ed25519')) return 'expected an OpenSSH RSA or ED25519 public key ("ssh-rsa AAAA..." or "ssh-ed25519 AAAA..."), not a private key';
  const problem = blobProblem(m[1], m[2]);
  if (problem) return problem;
  if (m[3] && /\b(ssh-rsa|ssh-ed25519|ecdsa-sha2-\S+|ssh-dss) AAAA/.test(m[3])) return 'expected exactly one OpenSSH public key, found more than one';
  return undefined;
}
