import { type Dataset, type DatasetRequest, loadDataset } from '@lrsweep/trainer';
import type { Logger } from 'pino';

/** Loads each dataset once per process; its arrays live in SharedArrayBuffers every thread reads. */
export function createDatasetCache(log: Logger) {
  const cache = new Map<string, Dataset>();
  return {
    get(req: DatasetRequest): Dataset {
      const key = `${req.name}:${req.trainSize}:${req.testSize}`;
      let d = cache.get(key);
      if (!d) {
        const t0 = Date.now();
        d = loadDataset(req);
        cache.set(key, d);
        log.info({ dataset: key, checksum: d.checksum.slice(0, 12), ms: Date.now() - t0 }, 'dataset loaded');
      }
      return d;
    },
  };
}
