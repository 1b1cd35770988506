import { describe, expect, test } from 'vitest';
import { IommufdObject, type ObjectType } from '../../../actors/iommufd/object.ts';
import { ObjectTable } from '../../../actors/iommufd/object-table.ts';

class Obj extends IommufdObject {
  destroyed = false;
  constructor(
    readonly type: ObjectType,
    readonly parent?: Obj,
  ) {
    super();
    parent?.get();
  }
  destroy(): void {
    this.destroyed = true;
    this.parent?.put();
  }
}

function make(table: ObjectTable, type: ObjectType = 'IOAS', parent?: Obj): Obj {
  const o = table.alloc(new Obj(type, parent));
  table.finalize(o);
  return o;
}

describe('ObjectTable', () => {
  test('IDs are the lowest free value from 1, reused after destroy', () => {
    const t = new ObjectTable();
    const [a, b, c] = [make(t), make(t), make(t)];
    expect([a.id, b.id, c.id]).toEqual([1, 2, 3]);
    t.removeUser(2);
    t.removeUser(1);
    expect(make(t).id).toBe(1);
    expect(make(t).id).toBe(2);
    expect(make(t).id).toBe(4);
  });

  test('a reserved ID is invisible until finalize, and an abort frees it', async () => {
    const t = new ObjectTable();
    const o = t.alloc(new Obj('IOAS'));
    expect(() => t.get(o.id)).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
    await t.abort(o);
    expect(make(t).id).toBe(o.id);
  });

  test('a wrong type or a missing ID is ENOENT', () => {
    const t = new ObjectTable();
    const o = make(t, 'IOAS');
    expect(t.get(o.id, 'IOAS')).toBe(o);
    expect(() => t.get(o.id, 'DEVICE')).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
    expect(() => t.get(0)).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
  });

  test('DESTROY of a referenced object is EBUSY and changes nothing', () => {
    const t = new ObjectTable();
    const parent = make(t);
    const child = make(t, 'HWPT_PAGING', parent);
    expect(() => t.removeUser(parent.id)).toThrow(expect.objectContaining({ errno: 'EBUSY' }));
    expect(t.get(parent.id)).toBe(parent);
    expect(parent.users).toBe(2);
    t.removeUser(child.id).destroy();
    expect(parent.users).toBe(1);
    t.removeUser(parent.id);
  });

  test('a tombstoned ID reads as ENOENT and is never reused before close', () => {
    const t = new ObjectTable();
    const o = make(t);
    t.tombstone(o);
    expect(() => t.get(o.id)).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
    expect(make(t).id).toBe(2);
  });

  test('close destroys leaf first and reports a refcount leak', async () => {
    const t = new ObjectTable();
    const root = make(t);
    const mid = make(t, 'HWPT_PAGING', root);
    const leaf = make(t, 'HWPT_NESTED', mid);
    const order: number[] = [];
    await t.destroyAll(async (o) => {
      order.push(o.id);
      t.remove(o);
      await o.destroy();
    });
    expect(order).toEqual([leaf.id, mid.id, root.id]);

    const t2 = new ObjectTable();
    const stuck = make(t2);
    stuck.get();
    await expect(t2.destroyAll(async (o) => t2.remove(o))).rejects.toThrow(/cannot progress/);
  });
});
