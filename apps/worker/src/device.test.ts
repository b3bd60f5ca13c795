import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeDevice, parseNvidiaSmi } from './device';

describe('the device a worker reports', () => {
  it("reads nvidia-smi's name, memory and driver", () => {
    expect(parseNvidiaSmi('NVIDIA H100 80GB HBM3, 81559, 550.54.15')).toEqual({
      name: 'NVIDIA H100 80GB HBM3',
      memoryMiB: 81559,
      driver: '550.54.15',
    });
    expect(parseNvidiaSmi('')).toBeNull();
    expect(parseNvidiaSmi('No devices were found')).toBeNull();
  });

  it('asks nvidia-smi for the first GPU CUDA_VISIBLE_DEVICES shows, and survives its absence', () => {
    // A stand-in nvidia-smi that echoes the device it was asked for.
    const dir = mkdtempSync(join(tmpdir(), 'smi-'));
    const smi = join(dir, 'nvidia-smi');
    writeFileSync(smi, '#!/bin/sh\nfor a in "$@"; do last="$a"; done\necho "NVIDIA GH200 $last, 97871, 560.35.03"\n');
    chmodSync(smi, 0o755);
    expect(describeDevice(true, { CUDA_VISIBLE_DEVICES: '3,1' }, smi)).toEqual({
      kind: 'gpu',
      name: 'NVIDIA GH200 3',
      memoryMiB: 97871,
      driver: '560.35.03',
    });
    expect(describeDevice(true, {}, join(dir, 'missing'))).toMatchObject({
      kind: 'gpu',
      memoryMiB: null,
      driver: null,
    });
    const cpu = describeDevice(false);
    expect(cpu.kind).toBe('cpu');
    expect(cpu.name).toContain(cpus()[0]!.model.trim());
    expect(cpu.memoryMiB).toBeGreaterThan(0);
  });
});
