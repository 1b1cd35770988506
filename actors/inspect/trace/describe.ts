import type { FarmEvent } from '../../runtime/trace.ts';

const hex = (v: bigint) => `0x${v.toString(16)}`;

function stateText(state: unknown): string {
  if (typeof state === 'string') return state;
  return JSON.stringify(state, (_k, v) => (typeof v === 'bigint' ? hex(v) : v));
}

/** Who an event is about (its lifeline) and what happened, in a few words. */
export function describeEvent(e: FarmEvent): { who: string; what: string } {
  switch (e.type) {
    case 'actor.transition':
      return { who: e.actor, what: `${e.event} → ${stateText(e.state)}` };
    case 'ioctl':
      return { who: e.process, what: `${e.ioctl} (ctx ${e.ctx})${e.errno ? ` → ${e.errno}` : ''}` };
    case 'dma': {
      const pasid = e.pasid === undefined ? '' : ` pasid ${e.pasid}`;
      return {
        who: e.device,
        what: `DMA ${e.op} ${hex(e.iova)}+${e.length}${pasid}: ${e.ok ? 'ok' : `fault ${e.fault}`}`,
      };
    }
    case 'fabric.deliver':
      return { who: e.link, what: e.label };
    case 'irq':
      return { who: e.source, what: `interrupt (count ${e.count})` };
    case 'cmd':
      return { who: e.queue, what: `${e.opcode}${e.detail ? ` ${e.detail}` : ''}` };
    case 'fault':
      return {
        who: e.iommu,
        what: `fault ${e.reason}${e.device ? ` from ${e.device}` : ''}${e.detail ? ` (${e.detail})` : ''}`,
      };
    case 'object':
      return { who: `ctx ${e.ctx}`, what: `${e.op} ${e.kind} ${e.id}` };
  }
}

/** `    2040 ns  vmm               IOMMU_IOAS_UNMAP (ctx 1)`: one event per line, for a terminal. */
export function formatEvent(e: FarmEvent): string {
  const { who, what } = describeEvent(e);
  return `${String(e.t).padStart(10)} ns  ${who.padEnd(18)} ${what}`;
}
