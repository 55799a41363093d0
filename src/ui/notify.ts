// Slack notifications (the original called HipChat/Slack REST APIs): on success and on
// failure of the commands that change what users reach. The webhook URL is a secret: it
// is in the redactor, and a notification that cannot be sent is only a warning. The body
// goes through the same redaction and control-character cleaning as every printed line.
import type { Ctx } from '../context.js';
import { webhookProblem } from '../config/schema.js';
import { stripControl } from './redact.js';

const NOTIFIED = new Set(['create', 'create_nova', 'promote', 'discard', 'rollback', 'terminate', 'terminate_nova', 'terminate_vpc', 'terminate_eb_old_environment']);

/**
 * The config's webhook, else SLACK_WEBHOOK_URL from the environment; a sandbox phase uses
 * only its own config's, so trying the sandbox never posts to a team's real channel.
 */
export function webhookUrl(ctx: Pick<Ctx, 'config' | 'sandbox'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return ctx.config.notify.SLACK_WEBHOOK_URL ?? (ctx.sandbox ? undefined : env.SLACK_WEBHOOK_URL);
}

export function shouldNotify(command: string, ok: boolean, result: Record<string, unknown> | undefined): boolean {
  if (!NOTIFIED.has(command)) return false;
  // The cleanup runs every day; only what it removed, or its failure, is news.
  if (command === 'terminate_eb_old_environment') return !ok || ((result?.terminated as unknown[] | undefined)?.length ?? 0) > 0;
  return true;
}

export function message(ctx: Ctx, ok: boolean, result: Record<string, unknown> | undefined, error: string | undefined): string {
  const seconds = Math.round((Date.now() - ctx.startedAt.getTime()) / 1000);
  const r = (result?.create_nova as Record<string, unknown> | undefined) ?? result ?? {};
  const parts = [
    `${ok ? ':white_check_mark:' : ':x:'} johanna ${ctx.command} ${ok ? 'succeeded' : 'FAILED'} on phase ${ctx.phase} (${seconds}s)`,
  ];
  if (r.versionLabel) parts.push(`version ${r.versionLabel}${r.newEnvironment ? ` in ${r.newEnvironment}` : r.to ? ` in ${r.to}` : ''}`);
  if (r.oldEnvironment) parts.push(`previous ${r.oldEnvironment}`);
  if (r.held) parts.push(`held on its own CNAME since ${r.heldSince}, not swapped in: ${ctx.hint?.('-f promote') ?? './run -f promote'} or ${ctx.hint?.('-f discard') ?? './run -f discard'}`);
  if (r.gitHashJohanna || r.gitHashNova) parts.push(`git johanna ${r.gitHashJohanna ?? '?'}, nova ${r.gitHashNova ?? '?'}`);
  const bake = r.bake as { verdict?: string; summary?: string; ignoredAlarms?: string[] } | undefined;
  if (bake?.verdict === 'inconclusive') parts.push(`bake INCONCLUSIVE: ${bake.summary}; the new version stays live, check it yourself`);
  else if (bake?.summary) parts.push(`bake ${bake.summary}`);
  if (bake?.ignoredAlarms?.length) parts.push(`ignored alarms already in ALARM before the swap: ${bake.ignoredAlarms.join(', ')}`);
  if (Array.isArray(r.terminated) && r.terminated.length) parts.push(`terminated ${r.terminated.join(', ')}`);
  if (error) parts.push(`reason: ${error}`);
  return ctx.redactor.redact(parts.map((p) => stripControl(p)).join('\n'));
}

export async function notify(ctx: Ctx, ok: boolean, result?: Record<string, unknown>, error?: string): Promise<void> {
  const url = webhookUrl(ctx);
  if (!url || ctx.dryRun || !shouldNotify(ctx.command, ok, result)) return;
  // The config's URL was checked with the config; the environment's is checked here.
  const problem = webhookProblem(url);
  if (problem) {
    ctx.log.warn(`not sending the notification: SLACK_WEBHOOK_URL: ${problem}`);
    return;
  }
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: message(ctx, ok, result, error) }),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) ctx.log.warn(`notification not accepted by the webhook: HTTP ${res.status}`);
  } catch (err) {
    ctx.log.warn(`could not send the notification: ${ctx.redactor.redact((err as Error).message)}`);
  }
}
