// The words the plan, the resource table and the teardown share (a step, a teardown's
// result), in a file of their own so that none of the three imports another for a type.
import type { CallOptions } from '../aws/cli.js';

export type StepKind = 'create' | 'fix' | 'lookup';

export interface PlanStep {
  id: string;
  label: string;
  kind: StepKind;
  deps: string[];
  /** A route: replace the table's existing 0.0.0.0/0 route instead of creating one. */
  replace?: boolean;
}

export interface TeardownResult {
  deleted: string[];
  /** Found but not ours (no or another phase's tags): left alone on purpose. */
  notOurs: string[];
  /** Ours, but still there: what and why. */
  left: { item: string; reason: string }[];
}

export type Del = (label: string, fn: (opts: CallOptions) => Promise<unknown>, retryDependency?: boolean) => Promise<void>;
export type AddTask = (id: string, deps: string[], run: () => Promise<unknown>) => void;
