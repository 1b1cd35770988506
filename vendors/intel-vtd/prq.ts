import { PhysAccessError, type PhysMemory } from '../../actors/mem/phys-memory.ts';
import { EventFd } from '../../actors/runtime/eventfd.ts';
import { DMA_CTL_IM, DMA_CTL_IP, DMA_PRS_PPR, DMA_PRS_PRO } from './regs.ts';

/** A PCIe Page Request as it reaches the IOMMU. */
export interface PageRequest {
  readonly rid: number;
  readonly pasid: number | undefined;
  readonly addr: bigint;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec?: boolean;
  readonly priv?: boolean;
  /** Last Page In Group: the group gets one response, for this request. */
  readonly lpig: boolean;
  readonly prgIndex: number;
}

/** `struct page_req_dsc` (256 bits). */
export const PRQ_DESC_SIZE = 32;
const PAGE_REQ_TYPE = 1n;

export function encodePageReq(r: PageRequest): [bigint, bigint, bigint, bigint] {
  const qw0 =
    PAGE_REQ_TYPE |
    (r.pasid !== undefined ? 1n << 8n : 0n) |
    (BigInt(r.rid & 0xffff) << 16n) |
    (BigInt((r.pasid ?? 0) & 0xfffff) << 32n) |
    (r.exec ? 1n << 52n : 0n) |
    (r.priv ? 1n << 53n : 0n);
  const qw1 =
    (r.read ? 1n : 0n) |
    (r.write ? 2n : 0n) |
    (r.lpig ? 4n : 0n) |
    (BigInt(r.prgIndex & 0x1ff) << 3n) |
    (r.addr & ~0xfffn & 0xffff_ffff_ffff_ffffn);
  return [qw0, qw1, 0n, 0n];
}

export function decodePageReq(qw0: bigint, qw1: bigint): PageRequest {
  const pp = ((qw0 >> 8n) & 1n) === 1n;
  return {
    rid: Number((qw0 >> 16n) & 0xffffn),
    pasid: pp ? Number((qw0 >> 32n) & 0xfffffn) : undefined,
    exec: ((qw0 >> 52n) & 1n) === 1n,
    priv: ((qw0 >> 53n) & 1n) === 1n,
    read: (qw1 & 1n) === 1n,
    write: (qw1 & 2n) === 2n,
    lpig: (qw1 & 4n) === 4n,
    prgIndex: Number((qw1 >> 3n) & 0x1ffn),
    addr: qw1 & ~0xfffn,
  };
}

/**
 * The page request queue: a ring at PQA (2^PQS pages of 32-byte descriptors). Hardware writes
 * at PQT and raises the page request event; software consumes up to PQT and writes PQH. A full
 * queue sets PRS.PRO and drops the request; a dropped last-in-group request is answered by the
 * hardware itself with Success, so the device retries [spec].
 */
export class PageRequestQueue {
  base = 0n;
  sizeBytes = 4096;
  head = 0;
  tail = 0;
  #prs = 0;
  #pectl = DMA_CTL_IM;
  readonly irq: EventFd;
  dropped = 0;

  constructor(
    private readonly mem: PhysMemory,
    defer: (fn: () => void) => void,
    name: string,
    private readonly autoRespond: (r: PageRequest) => void,
  ) {
    this.irq = new EventFd(`${name}/page-request`, defer);
  }

  get prs(): number {
    return this.#prs;
  }

  get pectl(): number {
    return this.#pectl;
  }

  writePqa(v: bigint): void {
    this.base = v & ~0xfffn;
    this.sizeBytes = 4096 << Number(v & 7n);
  }

  writePqh(v: bigint): void {
    this.head = Number(v & 0x7ffe0n) % this.sizeBytes;
  }

  /** PRS is write-1-to-clear. */
  writePrs(v: number): void {
    this.#prs &= ~(v & (DMA_PRS_PPR | DMA_PRS_PRO));
  }

  writePectl(v: number): void {
    const was = (this.#pectl & DMA_CTL_IM) !== 0;
    this.#pectl = (this.#pectl & DMA_CTL_IP) | (v & DMA_CTL_IM);
    if (was && !(v & DMA_CTL_IM) && this.#pectl & DMA_CTL_IP) this.#deliver();
  }

  /** Queues a request; false when it overflowed. */
  request(r: PageRequest): boolean {
    const full = (this.tail + PRQ_DESC_SIZE) % this.sizeBytes === this.head;
    if (full) {
      this.#prs |= DMA_PRS_PRO;
      this.dropped++;
      if (r.lpig && (r.read || r.write)) this.autoRespond(r);
      return false;
    }
    const words = encodePageReq(r);
    const at = this.base + BigInt(this.tail);
    try {
      for (let i = 0; i < 4; i++) this.mem.writeU64(at + BigInt(i * 8), words[i]!);
    } catch (err) {
      // A queue programmed over unbacked memory loses the request, like an aborted DMA write.
      if (!(err instanceof PhysAccessError)) throw err;
      this.dropped++;
      return false;
    }
    this.tail = (this.tail + PRQ_DESC_SIZE) % this.sizeBytes;
    const wasPending = (this.#prs & DMA_PRS_PPR) !== 0;
    this.#prs |= DMA_PRS_PPR;
    if (!wasPending) {
      if (this.#pectl & DMA_CTL_IM) this.#pectl |= DMA_CTL_IP;
      else this.#deliver();
    }
    return true;
  }

  #deliver(): void {
    this.#pectl &= ~DMA_CTL_IP;
    this.irq.write(1n);
  }
}
