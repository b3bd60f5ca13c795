import { type Dataset, type DatasetRequest, loadDataset } from '@lrsweep/trainer';
import type { Logger } from 'pino';

/** Everything that changes which samples a dataset request gives (the path among them). */
const datasetKey = (r: DatasetRequest) =>
  JSON.stringify([
    r.name,
    r.path ?? null,
    r.trainSize,
    r.testSize,
    r.validationSize ?? 0,
    r.splitSeed ?? null,
    r.label ?? null,
    r.task ?? null,
    r.contextLength ?? null,
  ]);

/** Loads each dataset once per process; its arrays live in SharedArrayBuffers every thread reads. */
export function createDatasetCache(log: Logger) {
  const cache = new Map<string, Dataset>();
  return {
    get(req: DatasetRequest): Dataset {
      const key = datasetKey(req);
      let d = cache.get(key);
      if (!d) {
        const t0 = Date.now();
        d = loadDataset(req);
        cache.set(key, d);
        log.info(
          {
            dataset: req.name,
            trainSize: req.trainSize,
            validationSize: req.validationSize ?? 0,
            checksum: d.checksum.slice(0, 12),
            ms: Date.now() - t0,
          },
          'dataset loaded',
        );
      }
      return d;
    },
  };
}
