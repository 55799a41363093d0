// create_vpc's apply: run the plan's steps, each as soon as what it needs exists. Each
// step's create is its resource kind's, in resources.ts. Ids not known yet under --dry-run
// read as placeholders such as <vpc-id> in the printed calls.
import type * as ec2 from '../aws/ec2.js';
import type { Ctx } from '../context.js';
import { StateError } from '../errors.js';
import type { DesiredPhase } from './desired.js';
import type { ExistingPhase } from './discover.js';
import type { CreatePlan } from './plan.js';
import type { PlanStep } from './types.js';
import { forStep, refsFrom, RESOURCES, type Outcome, type Refs, type StepFn } from './resources.js';
import { runGraph } from './run.js';
import type { Deadline } from '../time.js';

export type { Refs } from './resources.js';

export interface ApplyOutcome {
  /** Labels of the steps that changed something. */
  done: string[];
  /** Steps that found their resource already there (a killed run made it). */
  alreadyThere: string[];
  failed: { step: string; error: string }[];
  refs: Refs;
}

export async function applyPlan(ctx: Ctx, call: ec2.AwsCall, d: DesiredPhase, e: ExistingPhase, plan: CreatePlan, deadline: Deadline): Promise<ApplyOutcome> {
  const refs = refsFrom(e);
  const out: ApplyOutcome = { done: [], alreadyThere: [], failed: [], refs };
  const scope = { ctx, call, d, e, refs, deadline };
  const steps: Record<string, StepFn> = Object.assign({}, ...RESOURCES.map((r) => r.create(scope)));
  const action = (s: PlanStep): (() => Promise<Outcome>) => {
    const found = forStep(steps, s.id);
    if (!found) throw new Error(`no action for plan step ${s.id}`);
    const [fn, arg] = found;
    return () => fn(s, arg);
  };

  // runGraph starts, and serves the calls of, the longest chain first (the VPC's, to the NAT
  // gateway's route); IAM, the key pair and the application fill in around it.
  const failures = await runGraph(
    plan.steps.map((s) => {
      const run = action(s);
      return {
        id: s.id,
        deps: s.deps,
        run: async () => {
          const r = await run();
          if (s.kind === 'lookup') return;
          if (r === 'done') {
            out.done.push(s.label);
            if (!ctx.dryRun) ctx.log.ok(s.label);
          } else {
            out.alreadyThere.push(s.label);
          }
        },
      };
    }),
  );
  const labels = new Map(plan.steps.map((s) => [s.id, s.label]));
  for (const f of failures) out.failed.push({ step: labels.get(f.id) ?? f.id, error: (f.error as Error)?.message ?? String(f.error) });
  // A conflict is the operator's to resolve: surface it as itself, not as one failure of many.
  const conflict = failures.find((f) => f.error instanceof StateError);
  if (conflict) throw conflict.error;
  return out;
}
