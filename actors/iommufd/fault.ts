import { BehaviorSubject, distinctUntilChanged, type Observable } from 'rxjs';
import type { DeviceRef } from '../../vendors/driver.ts';
import { POLLIN, POLLOUT } from '../mem/file-table.ts';
import { AnonObjectFile, reserveAnonFd } from './anon-fd.ts';
import type { IommufdCtx } from './ctx.ts';
import { fail } from './errno.ts';
import type { IommufdGroup } from './igroup.ts';
import type { IoctlArg } from './ioctl-table.ts';
import { IommufdObject } from './object.ts';
import {
  IOMMU_PGFAULT_FLAGS_PASID_VALID,
  IOMMUFD_PAGE_RESP_INVALID,
  IOMMUFD_PAGE_RESP_SUCCESS,
} from './uapi-iommufd.ts';
import { iommu_hwpt_page_response, iommu_hwpt_pgfault } from './uapi-structs-iommufd.ts';
import type { Ucmd } from './ucmd.ts';

const FAULT_SIZE = iommu_hwpt_pgfault.sizeof;
const RESPONSE_SIZE = iommu_hwpt_page_response.sizeof;
const XA_LIMIT_32B = 0xffff_ffff;

/** One page request as the device sent it (`struct iommu_fault_page_request`). */
export interface PageRequest {
  /** IOMMU_PGFAULT_FLAGS_*: PASID_VALID, LAST_PAGE. */
  readonly flags: number;
  readonly pasid: number;
  readonly grpid: number;
  readonly perm: number;
  readonly addr: bigint;
}

/** `struct iopf_group`: the requests of one page request group, delivered and answered together. */
export interface IopfGroup {
  /** The device object named by `dev_id` in every message. */
  readonly devId: number;
  readonly dev: DeviceRef;
  readonly respond: (dev: DeviceRef, pasid: number | undefined, grpid: number, code: number) => void;
  /** The attach handle it was routed through: (igroup, PASID), undefined PASID for the RID. */
  readonly igroup: IommufdGroup;
  readonly handlePasid: number | undefined;
  /** In delivery order; the LAST_PAGE request is the one answered. */
  readonly faults: readonly PageRequest[];
  readonly last: PageRequest;
}

/** `iopf_group_response`: the driver's page_response for the group's last request. */
function groupResponse(group: IopfGroup, code: number): void {
  const { last } = group;
  const pasid = last.flags & IOMMU_PGFAULT_FLAGS_PASID_VALID ? last.pasid : undefined;
  group.respond(group.dev, pasid, last.grpid, code);
}

/**
 * IOMMUFD_OBJ_FAULT: page request groups of the HWPTs allocated with this fault, queued for
 * userspace to read through the `[iommufd-pgfault]` fd and answered by writing responses.
 * A group read gets a cookie (lowest free, from 1) and waits in `response` for its answer.
 */
export class Fault extends IommufdObject {
  readonly type = 'FAULT' as const;
  readonly #deliver: IopfGroup[] = [];
  readonly #response = new Map<number, IopfGroup>();
  readonly #readable = new BehaviorSubject(false);
  /** poll(POLLIN) as a level: true while groups are queued for read. */
  readonly readable$: Observable<boolean> = this.#readable.pipe(distinctUntilChanged());

  constructor(readonly ctx: IommufdCtx) {
    super();
  }

  /** Groups queued for read(). */
  get queued(): number {
    return this.#deliver.length;
  }

  /** Groups read and waiting for a response. */
  get awaitingResponse(): number {
    return this.#response.size;
  }

  /** `iommufd_fault_iopf_handler`: queues a group for userspace. */
  deliver(group: IopfGroup): void {
    this.#deliver.push(group);
    this.#sync();
  }

  /**
   * `iommufd_auto_response_faults`: the attach handle went away (detach, replace), so its
   * groups, read or not, are answered INVALID and dropped.
   */
  autoRespond(igroup: IommufdGroup, pasid: number | undefined): void {
    const mine = (g: IopfGroup) => g.igroup === igroup && g.handlePasid === pasid;
    for (let i = this.#deliver.length - 1; i >= 0; i--) {
      const g = this.#deliver[i]!;
      if (!mine(g)) continue;
      this.#deliver.splice(i, 1);
      groupResponse(g, IOMMUFD_PAGE_RESP_INVALID);
    }
    for (const [cookie, g] of [...this.#response]) {
      if (!mine(g)) continue;
      this.#response.delete(cookie);
      groupResponse(g, IOMMUFD_PAGE_RESP_INVALID);
    }
    this.#sync();
  }

  /** read(): whole groups of 40-byte `iommu_hwpt_pgfault` messages. */
  read(count: number): Uint8Array {
    if (count % FAULT_SIZE) fail('ESPIPE', `read of ${count} bytes is not a multiple of ${FAULT_SIZE}`);
    const groups: Array<[IopfGroup, number]> = [];
    let done = 0;
    while (this.#deliver.length > 0) {
      const group = this.#deliver[0]!;
      if (done >= count || group.faults.length * FAULT_SIZE > count - done) {
        if (done === 0)
          fail('EINVAL', `a group of ${group.faults.length} faults does not fit ${count} bytes`);
        break;
      }
      this.#deliver.shift();
      const cookie = this.#allocCookie();
      this.#response.set(cookie, group);
      groups.push([group, cookie]);
      done += group.faults.length * FAULT_SIZE;
    }
    this.#sync();
    // Sized by what was delivered, not by `count`, which userspace may make huge.
    const out = new Uint8Array(done);
    let off = 0;
    for (const [group, cookie] of groups) {
      for (const f of group.faults) {
        iommu_hwpt_pgfault.encodeInto({ ...f, dev_id: group.devId, length: 0, cookie }, out, off);
        off += FAULT_SIZE;
      }
    }
    return out;
  }

  /** write(): `iommu_hwpt_page_response` records; stops at the first bad one (partial count if any). */
  write(bytes: Uint8Array): number {
    if (bytes.length % RESPONSE_SIZE) fail('ESPIPE', `write of ${bytes.length} bytes`);
    let done = 0;
    try {
      while (done < bytes.length) {
        const { cookie, code } = iommu_hwpt_page_response.decode(bytes, done);
        if (code !== IOMMUFD_PAGE_RESP_SUCCESS && code !== IOMMUFD_PAGE_RESP_INVALID) {
          fail('EINVAL', `response code ${code}`);
        }
        const group = this.#response.get(cookie) ?? fail('EINVAL', `unknown cookie ${cookie}`);
        this.#response.delete(cookie);
        groupResponse(group, code);
        done += RESPONSE_SIZE;
      }
    } catch (err) {
      if (done > 0) return done;
      throw err;
    }
    return done;
  }

  poll(): number {
    return POLLOUT | (this.#deliver.length > 0 ? POLLIN : 0);
  }

  /** `iommufd_fault_destroy`: whatever is still pending is answered INVALID. */
  destroy(): void {
    for (const g of this.#deliver.splice(0)) groupResponse(g, IOMMUFD_PAGE_RESP_INVALID);
    for (const g of this.#response.values()) groupResponse(g, IOMMUFD_PAGE_RESP_INVALID);
    this.#response.clear();
    this.#sync();
  }

  /** xa_alloc(XA_FLAGS_ALLOC1): the lowest cookie not awaiting a response. */
  #allocCookie(): number {
    for (let c = 1; c <= XA_LIMIT_32B; c++) if (!this.#response.has(c)) return c;
    return fail('EBUSY', 'no free cookie');
  }

  #sync(): void {
    this.#readable.next(this.#deliver.length > 0);
  }
}

/** The `[iommufd-pgfault]` anon fd: read faults, write responses, poll. */
export class FaultFile extends AnonObjectFile {
  readonly kind = '[iommufd-pgfault]';
  readonly readable$: Observable<boolean>;

  constructor(readonly fault: Fault) {
    super(fault);
    this.readable$ = fault.readable$;
  }

  read(count: number): Uint8Array {
    return this.fault.read(count);
  }

  write(bytes: Uint8Array): number {
    return this.fault.write(bytes);
  }

  poll(): number {
    return this.fault.poll();
  }
}

/** IOMMU_FAULT_QUEUE_ALLOC: a FAULT object and its fd (which holds a reference until closed). */
export function iommufdFaultAlloc(ucmd: Ucmd<IoctlArg<'IOMMU_FAULT_QUEUE_ALLOC'>>): void {
  const { cmd, ctx } = ucmd;
  if (cmd.flags) fail('EOPNOTSUPP', 'flags');
  const fault = ctx.objects.create(() => new Fault(ctx));
  ucmd.newObj = fault;
  cmd.out_fault_fd = reserveAnonFd(ucmd as Ucmd<object>, new FaultFile(fault));
  cmd.out_fault_id = fault.id;
  ucmd.respond();
}
