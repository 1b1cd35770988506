import type { Rng } from './rng.ts';

/** One message in flight between two actors. */
export interface FabricMessage {
  readonly link: string;
  readonly label: string;
  readonly readyAt: number;
  readonly deliver: () => void;
}

/** The head of a link's queue, offered to the delivery policy. */
export interface DeliveryCandidate {
  readonly link: string;
  readonly label: string;
  readonly readyAt: number;
}

/**
 * Picks which ready link delivers next. The default draws from the farm's seeded PRNG, so a
 * seed fixes the interleaving; a test can install its own to force or enumerate orders.
 */
export type DeliveryPolicy = (candidates: readonly DeliveryCandidate[], rng: Rng) => number;

export const seededPolicy: DeliveryPolicy = (candidates, rng) => rng.below(candidates.length);
export const fifoPolicy: DeliveryPolicy = (candidates) => {
  let best = 0;
  for (let i = 1; i < candidates.length; i++)
    if (candidates[i]!.readyAt < candidates[best]!.readyAt) best = i;
  return best;
};

/**
 * The farm-level message fabric: a FIFO queue per link (source→destination). Messages on one
 * link keep their order, as on a real interconnect; across links the policy chooses.
 */
export class Fabric {
  readonly #links = new Map<string, FabricMessage[]>();
  #pending = 0;
  policy: DeliveryPolicy = seededPolicy;

  constructor(private readonly rng: Rng) {}

  get pending(): number {
    return this.#pending;
  }

  post(message: FabricMessage): void {
    let queue = this.#links.get(message.link);
    if (!queue) {
      queue = [];
      this.#links.set(message.link, queue);
    }
    queue.push(message);
    this.#pending++;
  }

  /** The earliest time at which some link head becomes deliverable, or undefined when empty. */
  nextReadyAt(): number | undefined {
    let t: number | undefined;
    for (const queue of this.#links.values()) {
      const head = queue[0];
      if (head && (t === undefined || head.readyAt < t)) t = head.readyAt;
    }
    return t;
  }

  /** Takes the next ready message chosen by the policy (the caller delivers it); undefined when none. */
  takeOne(now: number): FabricMessage | undefined {
    const ready: FabricMessage[] = [];
    for (const queue of this.#links.values()) {
      const head = queue[0];
      if (head && head.readyAt <= now) ready.push(head);
    }
    if (ready.length === 0) return undefined;
    const pick = ready.length === 1 ? 0 : this.policy(ready, this.rng);
    const chosen = ready[pick];
    if (!chosen) throw new Error(`Fabric policy returned ${pick} for ${ready.length} candidates`);
    const queue = this.#links.get(chosen.link)!;
    queue.shift();
    if (queue.length === 0) this.#links.delete(chosen.link);
    this.#pending--;
    return chosen;
  }
}
