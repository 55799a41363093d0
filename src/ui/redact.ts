// Secrets never reach a terminal, a log file, the run log or the webhook: every string we
// print or record passes through a Redactor. It masks by rule, not by a list of places:
// - the run's secret values (credentials from the environment, and every config value the
//   schema marks secret: see secretConfigValues in src/config/schema.ts);
// - the shapes of secrets nobody registered: access key ids, Slack webhook URLs, and the
//   userinfo of any URL (https://user:token@host keeps the URL, masks user:token);
// - the value of an app environment setting whose name looks secret (*TOKEN*, *SECRET*,
//   *PASSWORD*, *KEY*), wherever an EB option setting carries it, even a value too short
//   to register (an argument is masked by its structure, a text by its JSON shape).

export const MASK = '***';

/** The names of app environment settings whose values are secret, case-insensitive. */
export const SECRET_NAME = /TOKEN|SECRET|PASSWORD|KEY/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The EB namespace of the app's environment settings (nova.ENVIRONMENT and ours). */
export const APP_ENV_NAMESPACE = 'aws:elasticbeanstalk:application:environment';

// A URL's userinfo: scheme://<userinfo>@host. The userinfo ends at the last '@' before the
// host, so a password with '@' in it is masked whole; it never spans '/', space or quotes.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@'"<>]+(?:@[^\s/?#@'"<>]+)*@(?=[^\s@])/gi;

const SHAPES: [RegExp, string][] = [
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, MASK], // access key ids
  [/https:\/\/hooks\.slack\.com\/[^\s"']+/g, MASK], // Slack incoming webhooks
  [USERINFO, `$1${MASK}@`],
];

// An EB option setting of the app's environment in JSON text (an argument inside an error
// message, `describe-configuration-settings` output, sorted or not): its Value is masked
// when its OptionName looks secret.
const OPTION_SETTING = new RegExp(
  `("Namespace"\\s*:\\s*"${APP_ENV_NAMESPACE}"\\s*,\\s*"OptionName"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"\\s*,\\s*(?:"ResourceName"\\s*:\\s*"(?:[^"\\\\]|\\\\.)*"\\s*,\\s*)?"Value"\\s*:\\s*")((?:[^"\\\\]|\\\\.)*)"`,
  'g',
);

export class Redactor {
  private readonly values: string[] = [];

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const s of secrets) this.add(s);
  }

  /**
   * Short values would mask ordinary words, so only values of 6+ characters are kept (a
   * shorter secret environment setting is still masked in option settings, by its name).
   * A value is also kept as JSON escapes it, since arguments carry values inside JSON.
   */
  add(secret: string | undefined): void {
    if (!secret) return;
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) {
      if (form.length >= 6 && !this.values.includes(form)) this.values.push(form);
    }
    this.values.sort((a, b) => b.length - a.length); // longest first, so a prefix never leaves a tail
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.values) out = out.split(v).join(MASK);
    for (const [re, to] of SHAPES) out = out.replace(re, to);
    out = out.replace(OPTION_SETTING, (all, head: string, name: string) => (isSecretName(name) ? `${head}${MASK}"` : all));
    return out;
  }

  /**
   * How many characters at the end of `text` could be the start of a registered secret: a
   * stream that shows a partial line holds these back until the rest comes, so a secret
   * split across a pause is never printed in two unmasked halves (issue 20 item 12).
   */
  heldTail(text: string): number {
    let keep = 0;
    for (const v of this.values) {
      for (let n = Math.min(v.length - 1, text.length); n > keep; n--) {
        if (text.endsWith(v.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    return keep;
  }

  redactArgs(args: readonly string[]): string[] {
    return args.map((a) => this.redact(maskSecretSettings(a)));
  }
}

/**
 * An argument that is a JSON list of EB option settings (create-environment's
 * --option-settings) gets the Value of each secret-named app setting masked, whatever its
 * length. Any other argument is returned as it is.
 */
function maskSecretSettings(arg: string): string {
  if (!arg.startsWith('[') || !arg.includes(APP_ENV_NAMESPACE)) return arg;
  let parsed: unknown;
  try {
    parsed = JSON.parse(arg);
  } catch {
    return arg;
  }
  if (!Array.isArray(parsed)) return arg;
  let changed = false;
  const out = parsed.map((s: unknown) => {
    const o = s as { Namespace?: unknown; OptionName?: unknown; Value?: unknown };
    if (o && o.Namespace === APP_ENV_NAMESPACE && typeof o.OptionName === 'string' && isSecretName(o.OptionName) && o.Value !== undefined) {
      changed = true;
      return { ...o, Value: MASK };
    }
    return s;
  });
  return changed ? JSON.stringify(out) : arg;
}

/** The parts of a URL's userinfo worth registering as values (user:password, and the password). */
export function userinfoOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/([^\s/?#'"<>]+)@[^\s@/]/gi)) {
    out.push(m[1]);
    const colon = m[1].indexOf(':');
    if (colon >= 0) out.push(m[1].slice(colon + 1));
    out.push(decodeURIComponentSafe(m[1]));
  }
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The secrets a run knows of from its environment: credentials and the webhook URL. */
export function secretsFrom(env: NodeJS.ProcessEnv, extra: (string | undefined)[] = []): (string | undefined)[] {
  return [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN, env.AWS_ACCESS_KEY_ID, env.SLACK_WEBHOOK_URL, ...extra];
}

// Control characters in text that did not come from us (AWS data, a lock holder, a tool's
// output) could clear a terminal, set its title, ring its bell, or forge a log line in a
// cron log. Newline and tab stay; so do colour codes (SGR) when we colour, and nothing else.
// eslint-disable-next-line no-control-regex
const CONTROL = /\x1b\[[0-9;]*m|\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** `text` without control characters but newline and tab (and colour codes when `keepColor`). */
export function stripControl(text: string, keepColor = false): string {
  return text.replace(CONTROL, (m) => (keepColor && /^\x1b\[[0-9;]*m$/.test(m) ? m : ''));
}
