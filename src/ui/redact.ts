// Secrets never reach a terminal, a log file or the run log: every string we print or
// record passes through a Redactor that knows the run's secret values, plus the shapes of
// secrets we may not have been told about (access key ids, Slack webhook paths).

const SHAPES: RegExp[] = [
  /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, // access key ids
  /https:\/\/hooks\.slack\.com\/[^\s"']+/g, // Slack incoming webhooks
];

export const MASK = '***';

export class Redactor {
  private readonly values: string[] = [];

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const s of secrets) this.add(s);
  }

  /** Short values would mask ordinary words, so only values of 6+ characters are kept. */
  add(secret: string | undefined): void {
    if (secret && secret.length >= 6 && !this.values.includes(secret)) {
      this.values.push(secret);
      this.values.sort((a, b) => b.length - a.length); // longest first, so a prefix never leaves a tail
    }
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.values) out = out.split(v).join(MASK);
    for (const re of SHAPES) out = out.replace(re, MASK);
    return out;
  }

  redactArgs(args: readonly string[]): string[] {
    return args.map((a) => this.redact(a));
  }
}

/** The secrets a run knows of: credentials and webhook URLs from the environment and config. */
export function secretsFrom(env: NodeJS.ProcessEnv, extra: (string | undefined)[] = []): (string | undefined)[] {
  return [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN, env.AWS_ACCESS_KEY_ID, env.SLACK_WEBHOOK_URL, ...extra];
}
