// What the sweep page's buttons do: cancel, retry, delete (each confirmed first), add a base LR to
// the grid, download the trials as CSV; with the busy flag and the notice they leave (errors go
// to the page's own).
import { useState } from 'react';
import type { SweepDetail } from '@lrsweep/client';
import { errorText, useApi } from '../../api';

/** Saves text as a file the browser downloads (the token stays in a header, never in a link). */
function download(name: string, text: string, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function useSweepActions(
  id: string,
  sweep: SweepDetail | undefined,
  onExtended: () => void,
  setError: (message: string | undefined) => void,
) {
  const api = useApi();
  const [notice, setNotice] = useState<string>();
  const [busy, setBusy] = useState(false);

  const act = async (what: 'cancel' | 'retry' | 'delete') => {
    if (what === 'cancel' && !confirm('Cancel this sweep? Queued trials are dropped and running ones stop.')) return;
    if (
      what === 'delete' &&
      !confirm(
        `Delete sweep '${sweep?.name}' with its ${sweep?.counts.total} trials and all their metrics? This cannot be undone.`,
      )
    )
      return;
    setBusy(true);
    try {
      if (what === 'delete') {
        await api.deleteSweep(id);
        location.hash = '#/';
        return;
      }
      await (what === 'cancel' ? api.cancelSweep(id) : api.retrySweep(id));
      location.reload();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  /** Adds a base LR to the grid (every schedule, every seed): only the new trials run. */
  const extend = async (baseLr: number) => {
    if (
      !confirm(
        `Add base LR ${baseLr} to the grid? Every schedule runs at it with the sweep's seeds; existing trials stay as they are.`,
      )
    )
      return;
    try {
      const r = await api.extendSweep(id, { baseLr: [baseLr] }, { idempotencyKey: crypto.randomUUID() });
      setError(undefined);
      setNotice(`Added ${r.addedTrials} trials (base LR ${baseLr}); the sweep now has ${r.trialCount}.`);
      onExtended();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const csv = async () => {
    try {
      download(`trials-${id}.csv`, await api.trialsCsv(id));
    } catch (e) {
      setError(errorText(e));
    }
  };
  return { act, extend, csv, busy, notice };
}
