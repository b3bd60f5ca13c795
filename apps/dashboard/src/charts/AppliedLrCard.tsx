import { useState } from 'react';
import { LinePlot, type PlotSeries } from './LinePlot';

/** The applied learning rate per update, with a log-LR axis option (warmups and decays span decades). */
export function AppliedLrCard({ series, testId }: { series: PlotSeries[]; testId: string }) {
  const [logLr, setLogLr] = useState(false);
  return (
    <section className="card">
      <h3>Applied learning rate</h3>
      <div className="toolbar">
        <label>
          <input type="checkbox" aria-label="log LR" checked={logLr} onChange={(e) => setLogLr(e.target.checked)} /> log
          LR axis
        </label>
      </div>
      <LinePlot testId={testId} series={series} logY={logLr} xLabel="update" yLabel="lr" />
    </section>
  );
}
