/**
 * SMMUv3 queue index arithmetic: PROD/CONS hold an index in their low `shift` bits and a wrap
 * bit just above it; bit 31 is the overflow flag (EVTQ/PRIQ) and CMDQ_CONS keeps ERR in 30:24.
 */
export function qIdx(reg: number, shift: number): number {
  return reg & ((1 << shift) - 1);
}

export function qWrp(reg: number, shift: number): number {
  return reg & (1 << shift);
}

/** Index and wrap bit only. */
export function qPtr(reg: number, shift: number): number {
  return reg & ((1 << (shift + 1)) - 1);
}

export function qEmpty(prod: number, cons: number, shift: number): boolean {
  return qPtr(prod, shift) === qPtr(cons, shift);
}

export function qFull(prod: number, cons: number, shift: number): boolean {
  return qIdx(prod, shift) === qIdx(cons, shift) && qWrp(prod, shift) !== qWrp(cons, shift);
}

/** Entries in use between cons and prod. */
export function qUsed(prod: number, cons: number, shift: number): number {
  const size = 1 << shift;
  const p = qPtr(prod, shift);
  const c = qPtr(cons, shift);
  return (p - c + 2 * size) % (2 * size);
}

export function qSpace(prod: number, cons: number, shift: number): number {
  return (1 << shift) - qUsed(prod, cons, shift);
}

/** PROD/CONS + n, keeping the bits above the wrap bit (overflow flag, ERR) as they were. */
export function qInc(reg: number, shift: number, n = 1): number {
  const ptrMask = (1 << (shift + 1)) - 1;
  return ((reg & ~ptrMask) | ((qPtr(reg, shift) + n) & ptrMask)) >>> 0;
}

/** Is index `ptr` (index+wrap) in [cons, prod)? Used to tell whether a command was consumed. */
export function qConsumed(cons: number, ptr: number, shift: number): boolean {
  // ptr is consumed once cons has moved past it: the distance from ptr to cons is in (0, size].
  const size = 1 << shift;
  const d = (qPtr(cons, shift) - qPtr(ptr, shift) + 2 * size) % (2 * size);
  return d > 0 && d <= size;
}
