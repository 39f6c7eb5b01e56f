/**
 * The load a worker reports to LiveKit. LiveKit stops dispatching to a worker whose load reaches
 * the threshold (status FULL), so the load is the larger of two fractions: calls in progress of
 * MAX_CONCURRENT_CALLS, and CPU use of WORKER_MAX_CPU. Either one reaching 1 marks the worker
 * full: a call cap alone would keep accepting calls on a machine already too slow to keep up,
 * CPU alone reacts seconds late to a burst of calls.
 */

/** The worker is full when its load reaches this value. */
export const LOAD_THRESHOLD = 1;

export interface LoadSample {
  /** Jobs (calls) running on this worker now. */
  activeCalls: number;
  /** MAX_CONCURRENT_CALLS. */
  maxCalls: number;
  /** CPU use, 0..1 of all cores available to the process (the SDK's cgroup-aware measure). */
  cpu: number;
  /** WORKER_MAX_CPU: the CPU use that counts as full; 0 = CPU is not counted. */
  maxCpu: number;
}

/** Load in [0, 1]; `>= LOAD_THRESHOLD` means "send no more calls". */
export function workerLoad(s: LoadSample): number {
  const calls = s.maxCalls > 0 ? s.activeCalls / s.maxCalls : 1;
  // On a node shared with other work the node's CPU says nothing about this worker's room.
  const cpu = s.maxCpu > 0 ? s.cpu / s.maxCpu : 0;
  const load = Math.max(calls, Number.isFinite(cpu) ? cpu : 0);
  return Math.min(1, Math.max(0, load));
}

/** Whether another call may be accepted right now (checked per job request, between reports). */
export function hasRoomForCall(activeCalls: number, maxCalls: number): boolean {
  return activeCalls < maxCalls;
}
