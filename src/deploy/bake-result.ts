// What a bake (src/deploy/bake.ts) ends with: in a file of its own, so that the deploy's
// result (blue-green.ts) can carry it without importing the bake.
export type BakeVerdict = 'passed' | 'rolled back' | 'inconclusive' | 'cut short' | 'skipped';

export interface BakeResult {
  verdict: BakeVerdict;
  minutes: number;
  badMinutes: number;
  judgedMinutes: number;
  /** Alarms already in ALARM before the swap: ignored. */
  ignoredAlarms?: string[];
  /** The figures that failed (the bad minutes), for the history and the notification. */
  figures?: string;
  /** The bake's own words, one line. */
  summary: string;
  swappedBackAt?: string;
  dnsSettledAt?: string;
}
