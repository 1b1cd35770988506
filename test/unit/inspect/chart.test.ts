import { describe, expect, test } from 'vitest';
import { type AnyStateMachine, createActor, setup } from 'xstate';
import { chart } from '../../../actors/inspect/chart/chart.ts';
import { allStates, chartModel } from '../../../actors/inspect/chart/chart-model.ts';
import { machineTypes } from '../../../actors/inspect/chart/machine-types.ts';
import { mermaidId } from '../../../actors/inspect/chart/mermaid.ts';
import { createFarm } from '../../../index.ts';

/** Every event a machine names in `on` (XState's own list), plus its `after` delays. */
function eventsOf(machine: AnyStateMachine): string[] {
  return (machine as unknown as { events: string[] }).events.filter((e) => !e.startsWith('xstate.'));
}

const parallel = setup({ guards: { ready: () => true }, actions: { count: () => {} } }).createMachine({
  id: 'par',
  type: 'parallel',
  states: {
    link: {
      initial: 'down',
      states: {
        down: { on: { UP: 'up' }, after: { 500: { target: 'up', guard: 'ready' } } },
        up: { on: { DOWN: 'down' } },
      },
    },
    power: {
      initial: 'off',
      states: { off: { on: { ON: { target: 'on', actions: 'count' } } }, on: { type: 'final' } },
    },
  },
});

describe('chart of every machine type', () => {
  test('the farm, host, iommu, device and cmdq machines and every vendor machine are listed', () => {
    const names = machineTypes().map((m) => m.name);
    for (const base of ['farm', 'host', 'iommu', 'device', 'cmdq']) expect(names).toContain(base);
    expect(names).toContain('intel-vtd.qi');
    expect(names).toContain('arm-smmuv3.cmdq');
    expect(names).toContain('amd-vi.cmdq');
  });

  test.each(machineTypes().map((m) => [m.name, m.machine as AnyStateMachine] as const))(
    '%s: every state and every event appears in Mermaid and DOT',
    async (_name, machine) => {
      const mermaid = await chart(machine, { format: 'mermaid' });
      const dot = await chart(machine, { format: 'dot' });
      expect(mermaid.startsWith('stateDiagram-v2\n')).toBe(true);
      expect(dot.startsWith(`digraph "${machine.id}"`)).toBe(true);
      for (const s of allStates(chartModel(machine))) {
        expect(mermaid).toContain(`as ${mermaidId(s.id)}`);
        expect(dot).toContain(`"${s.id}`);
      }
      for (const e of eventsOf(machine)) {
        expect(mermaid).toMatch(new RegExp(` : ${e}\\b`));
        expect(dot).toMatch(new RegExp(`label="${e}\\b`));
      }
    },
  );

  test('guards and named actions label the edges; initial and final states are marked', async () => {
    const device = machineTypes().find((m) => m.name === 'device')!.machine;
    const mermaid = await chart(device, { format: 'mermaid' });
    expect(mermaid).toContain('s_device_attached --> s_device_bound : DETACH [detachesLast] / recordDetach');
    expect(mermaid).toContain('[*] --> s_device_present');
    expect(mermaid).toContain('s_device_removed --> [*]');
    expect(await chart(device, { format: 'dot' })).toContain(
      '"device.removed" [label="removed" peripheries=2]',
    );
  });

  test('parallel regions: Mermaid `--` inside the composite root, DOT dashed clusters; after delays', async () => {
    const mermaid = await chart(parallel, { format: 'mermaid' });
    const lines = mermaid.split('\n').map((l) => l.trim());
    const sep = lines.indexOf('--');
    expect(sep).toBeGreaterThan(lines.indexOf('state s_par {'));
    expect(lines.indexOf('state s_par_link {')).toBeLessThan(sep);
    expect(lines.indexOf('state s_par_power {')).toBeGreaterThan(sep);
    expect(mermaid).toContain('s_par_link_down --> s_par_link_up : after 500ms [ready]');
    const dot = await chart(parallel, { format: 'dot' });
    expect(dot).toContain('subgraph "cluster_par.link"');
    expect(dot).toContain('subgraph "cluster_par.power"');
    expect(dot).toMatch(/label="link"; style="dashed"/);
    expect(dot).toMatch(/"par.link.down" -> "par.link.up" \[label="after 500ms \[ready\]" style=dashed\]/);
  });

  test('json is XState’s own toJSON', async () => {
    const cmdq = machineTypes().find((m) => m.name === 'cmdq')!.machine;
    const json = JSON.parse(await chart(cmdq, { format: 'json' }));
    expect(json.id).toBe('cmdq');
    expect(Object.keys(json.states)).toEqual(['disabled', 'idle', 'consuming', 'waiting', 'halted']);
  });
});

describe('chart of a live actor', () => {
  test('highlights the current configuration and follows a transition', async () => {
    const farm = createFarm({ seed: 3 });
    const host = farm.addHost({ name: 'h0' });
    host.addIommu({ name: 'vtd0', vendor: 'intel-vtd' });
    const nic = host.addDevice({ name: 'nic0', iommu: 'vtd0', bdf: '0000:02:00.0' });
    const before = await chart(nic.actor, { format: 'mermaid' });
    expect(before).toContain('class s_device_present active');
    expect(before).toContain('actor h0/nic0 (active)');
    expect(before).toContain('bdf: "0000:02:00.0"');
    expect(before).toContain('BIND → bound');
    nic.actor.send({ type: 'BIND', ctx: 7 });
    const after = await chart(nic.actor, { format: 'mermaid' });
    expect(after).toContain('class s_device_bound active');
    expect(after).not.toContain('class s_device_present active');
    expect(after).toContain('owner: 7');
    expect(after).toContain('ATTACH → attached');
    const dot = await chart(nic.actor, { format: 'dot' });
    expect(dot).toMatch(/"device.bound" \[label="bound" fillcolor="#fde68a"/);
    expect(dot).not.toMatch(/"device.present" \[label="present" fillcolor/);
    const json = JSON.parse(await chart(nic.actor, { format: 'json' }));
    expect(json.live.active).toEqual(['device', 'device.bound']);
  });

  test('parallel configuration: one active state per region; bigint context stays JSON-safe', async () => {
    const withBig = setup({ types: { context: {} as { base: bigint } } }).createMachine({
      id: 'big',
      context: { base: 1n << 40n },
      initial: 'a',
      states: { a: {} },
    });
    const json = JSON.parse(await chart(createActor(withBig).start(), { format: 'json' }));
    expect(json.live.context).toEqual({ base: '0x10000000000n' });
    const a = createActor(parallel).start();
    a.send({ type: 'ON' });
    const mermaid = await chart(a, { format: 'mermaid' });
    expect(mermaid).toContain('class s_par_link_down,s_par_power_on active');
  });
});

describe('rendered pictures', () => {
  test('SVG parses as XML and names every state; PNG has the signature and a size', async () => {
    const cmdq = machineTypes().find((m) => m.name === 'cmdq')!.machine;
    const svg = await chart(cmdq, { format: 'svg' });
    expect(svg).toMatch(/<svg[\s>]/);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    // Well-formed: every element opened is closed, in order.
    const stack: string[] = [];
    for (const m of svg
      .replace(/<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>/g, '')
      .matchAll(/<(\/?)([\w:-]+)[^>]*?(\/?)>/g)) {
      if (m[3]) continue;
      if (m[1]) expect(stack.pop()).toBe(m[2]);
      else stack.push(m[2]!);
    }
    expect(stack).toEqual([]);
    for (const s of ['disabled', 'idle', 'consuming', 'waiting', 'halted'])
      expect(svg).toContain(`>${s}</text>`);
    const png = await chart(cmdq, { format: 'png' });
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(1000);
  });
});
