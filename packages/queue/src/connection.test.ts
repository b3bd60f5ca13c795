import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedis, parseClusterUrl, queuePrefix } from './connection';

describe('Redis connections', () => {
  it('reads a cluster URL: seed nodes, credentials, TLS', () => {
    expect(parseClusterUrl('redis://127.0.0.1:6379')).toBeNull();
    expect(parseClusterUrl('redis-cluster://a:7000,b:7001')).toEqual({
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      tls: false,
    });
    expect(parseClusterUrl('rediss-cluster://user:p%40ss@[::1]:7000')).toEqual({
      nodes: [{ host: '::1', port: 7000 }],
      tls: true,
      username: 'user',
      password: 'p@ss',
    });
    expect(parseClusterUrl('redis-cluster://:secret@h:1')).toMatchObject({ password: 'secret' });
    expect(() => parseClusterUrl('redis-cluster://h1:7000,h2')).toThrow(/'h2' is not host:port/);
  });

  it('hash-tags the queue prefix on a cluster only, and keeps a tag that is there', () => {
    const single = createRedis('redis://127.0.0.1:1', { use: 'requests' });
    const cluster = createRedis('redis-cluster://127.0.0.1:1', { use: 'requests' }) as Cluster;
    for (const r of [single, cluster]) r.on('error', () => {});
    try {
      expect(cluster).toBeInstanceOf(Cluster);
      expect(queuePrefix(single, 'lrsweep')).toBe('lrsweep');
      expect(queuePrefix(cluster, 'lrsweep')).toBe('{lrsweep}');
      expect(queuePrefix(cluster, 'prod:{q}')).toBe('prod:{q}');
    } finally {
      single.disconnect();
      cluster.disconnect();
    }
  });
});
