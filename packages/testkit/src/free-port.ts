// A free TCP port on loopback. Its own module, without side effects, so code outside the tests
// (the offline bundle's launcher) can import it without the rest of the testkit.
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
