export interface BackoffPolicy {
  initialMs: number
  maxMs: number
  /** Share of the delay that is randomised away (0 = none, 0.5 = the delay lies in [d/2, d]). */
  jitter: number
}

export const defaultBackoff: BackoffPolicy = { initialMs: 500, maxMs: 15_000, jitter: 0.5 }

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry).
 * Doubling with a cap; the jitter spreads out the thousands of tabs that lose their socket
 * at the same moment (a server restart) so they do not all come back in the same instant.
 */
export function reconnectDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const capped = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30))
  return Math.round(capped * (1 - policy.jitter * random()))
}
