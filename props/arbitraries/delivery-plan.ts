import fc from 'fast-check';

export interface DeliveryPlanConstraints {
  /** @defaultValue 12 */
  readonly maxLength?: number;
  /** @defaultValue 7 */
  readonly maxPick?: number;
}

/**
 * Choices for the farm's fabric policy (see `planPolicy`): whenever several links are ready the
 * next choice picks one by position. Shrinks to [] (always the first ready link).
 */
export function deliveryPlanArb(constraints: DeliveryPlanConstraints = {}): fc.Arbitrary<number[]> {
  const { maxLength = 12, maxPick = 7 } = constraints;
  return fc.array(fc.nat({ max: maxPick }), { maxLength });
}
