/** Turns an eval run into the per-policy summary, the printed table and the JSON report. */
import type { LagStats } from '../sim/clock.js';
import type { InterruptionPolicyName } from '../telephony/interruption/index.js';
import type { EvalRun } from './runner.js';
import { type EventResult, errorCount, type PolicyScore, scoreRun, summarize } from './score.js';

export interface EvalReport {
  policies: PolicyScore[];
  /** The same scores per group of scenarios (their first folder), per policy. */
  groups: Array<PolicyScore & { group: string }>;
  /**
   * Every event's result; an event with a failure also carries what the STT sent for it
   * (`[ms after onset] "text" [final] confidence`), so a regression explains itself.
   */
  events: Array<
    EventResult & { policy: InterruptionPolicyName; run_late_ms: number; stt_sent?: string[] }
  >;
  run: {
    folder: string;
    scenarios: number;
    duration_s: number;
    workers: number;
    concurrency: number;
    /** Event-loop delay per process (ms). */
    event_loop_lag_ms: LagStats[];
    /** How late scripted STT events fired (ms): timer lag as the sessions saw it. */
    stt_event_late_ms: { p50: number; p95: number; max: number };
    /** Runs measured again in a lighter second pass because their first run was late. */
    retried_runs: number;
    /** Runs still later than the retry threshold (their timings are pessimistic). */
    late_runs: number;
    settings: Record<string, string>;
  };
}

export function buildReport(
  r: EvalRun,
  o: {
    folder: string;
    policies: InterruptionPolicyName[];
    workers: number;
    concurrency: number;
    settings: Record<string, string>;
    retryLateMs: number;
  },
): EvalReport {
  const events: EvalReport['events'] = [];
  const groups: EvalReport['groups'] = [];
  const groupNames = [...new Set(r.scenarios.map((s) => s.group))].sort();
  const policies = o.policies.map((policy) => {
    const results: EventResult[] = [];
    for (const { job, run } of r.runs) {
      if (job.policy !== policy) continue;
      for (const e of scoreRun(r.scenarios[job.scenario]!, run)) {
        results.push(e);
        events.push({
          policy,
          ...e,
          run_late_ms: Math.round(run.sttLateMaxMs),
          ...(e.failures.length > 0 ? { stt_sent: run.sttSent[e.event] ?? [] } : {}),
        });
      }
    }
    for (const group of groupNames) {
      const mine = results.filter((e) => e.group === group);
      const scenarios = r.scenarios.filter((s) => s.group === group).length;
      groups.push({ group, ...summarize(policy, scenarios, mine) });
    }
    return summarize(policy, r.scenarios.length, results);
  });
  const late = r.runs.map((x) => x.run.sttLateMaxMs).sort((a, b) => a - b);
  const pct = (p: number) =>
    Math.round(late[Math.min(late.length - 1, Math.ceil((p / 100) * late.length) - 1)] ?? 0);
  return {
    policies,
    groups,
    events,
    run: {
      folder: o.folder,
      scenarios: r.scenarios.length,
      duration_s: Math.round(r.durationS * 10) / 10,
      workers: o.workers,
      concurrency: o.concurrency,
      event_loop_lag_ms: r.lag,
      stt_event_late_ms: { p50: pct(50), p95: pct(95), max: Math.round(late.at(-1) ?? 0) },
      retried_runs: r.retried,
      late_runs: late.filter((x) => x > o.retryLateMs).length,
      settings: o.settings,
    },
  };
}

/** The errors of `policy`, one line each: scenario, expectation, failures, truth and STT. */
export function formatErrors(report: EvalReport, policy: InterruptionPolicyName): string[] {
  return report.events
    .filter((e) => e.policy === policy && e.failures.length > 0)
    .map(
      (e) =>
        `${e.scenario} #${e.event} (${e.expect} at ${e.at_ms} ms): ${e.failures.join(', ')}; ` +
        `said "${e.transcript}"; STT sent ${e.stt_sent?.length ? e.stt_sent.join(' → ') : 'nothing'}`,
    );
}

/**
 * A fixed-width table, one row per policy, or per policy and group (also valid Markdown).
 */
export function formatTable(policies: Array<PolicyScore & { group?: string }>): string {
  const grouped = policies.some((p) => p.group !== undefined);
  const head = [
    ...(grouped ? ['group'] : []),
    'policy',
    'events',
    'false int.',
    'stutters',
    'spurious',
    'missed int.',
    'missed resp.',
    'errors',
    'latency p50/p95/max ms',
  ];
  const rows = policies.map((p) => {
    const l = p.interrupt_latency_ms;
    const f = (x: number | null) => (x === null ? '-' : String(x));
    return [
      ...(grouped ? [p.group ?? ''] : []),
      p.name,
      String(p.events),
      String(p.false_interruptions),
      String(p.stutters),
      String(p.spurious_replies),
      String(p.missed_interruptions),
      String(p.missed_responses),
      String(errorCount(p)),
      `${f(l.p50)} / ${f(l.p95)} / ${f(l.max)}`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(head),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}
