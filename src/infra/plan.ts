// create_vpc's plan: desired minus existing, as a list of steps with their dependencies.
// Pure: the same described state always gives the same plan, and --dry-run shows it.
import type { DesiredPhase } from './desired.js';
import type { ExistingPhase } from './discover.js';
import { forStep, RESOURCES, type PlanBuilder } from './resources.js';
import type { PlanStep } from './types.js';

export interface CreatePlan {
  steps: PlanStep[];
  /** What already exists as desired, as human labels. */
  present: string[];
}

/** What each step needs first, when that is in the plan too: its resource kind says. */
const DEPS: Record<string, (arg: string) => string[]> = Object.assign({}, ...RESOURCES.map((r) => r.deps ?? {}));

function staticDeps(id: string): string[] {
  const found = forStep(DEPS, id);
  return found ? found[0](found[1]) : [];
}

/** Each resource kind's check, in the table's order: a step for what is missing or differs. */
export function planCreate(d: DesiredPhase, e: ExistingPhase): CreatePlan {
  const steps: PlanStep[] = [];
  const present: string[] = [];
  const builder: PlanBuilder = {
    add: (id, label, kind = 'create', extra = {}) => void steps.push({ id, label, kind, deps: [], ...extra }),
    have: (label) => void present.push(label),
  };
  for (const r of RESOURCES) r.check(d, e, builder);

  const ids = new Set(steps.map((s) => s.id));
  for (const s of steps) s.deps = [...new Set([...staticDeps(s.id), ...s.deps])].filter((dep) => ids.has(dep));
  return { steps, present };
}
