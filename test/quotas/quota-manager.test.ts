/**
 * Client quotas on a controlled clock: the sampled rate, the throttle time Kafka computes from it,
 * which configured quota applies to a client (and which clients share a rate), the request quota's
 * cap, what a throttled request does to its connection, and the quota configuration itself
 * (AlterClientQuotas validation and DescribeClientQuotas filters), persisted and reloaded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../protocol/error-codes.js';
import { type AlterEntry, ClientQuotaStore, type QuotaStorePersistence } from '../../src/quotas/client-quota-store.js';
import { ClientQuotas } from '../../src/quotas/quota-manager.js';
import { SampledRate } from '../../src/quotas/rate.js';
import { RequestQuota } from '../../src/quotas/request-quota.js';

function memoryPersistence(): QuotaStorePersistence & { docs: Map<string, string> } {
  const docs = new Map<string, string>();
  return {
    docs,
    readState: (name) => Promise.resolve(docs.get(name) ?? null),
    writeState: (name, text) => {
      docs.set(name, text);
      return Promise.resolve();
    },
  };
}

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  const c = { now: start, fn: () => c.now };
  return c;
}

const set = (entity: [string, string | null][], ops: Record<string, number>): AlterEntry => ({
  entity: entity.map(([entityType, entityName]) => ({ entityType, entityName })),
  ops: Object.entries(ops).map(([key, value]) => ({ key, value, remove: false })),
});
const remove = (entity: [string, string | null][], keys: string[]): AlterEntry => ({
  entity: entity.map(([entityType, entityName]) => ({ entityType, entityName })),
  ops: keys.map((key) => ({ key, value: 0, remove: true })),
});

async function quotasWith(entries: AlterEntry[], c = clock()) {
  const q = new ClientQuotas(memoryPersistence(), { samples: 11, windowSeconds: 1 }, c.fn);
  await q.load();
  const results = await q.store.alter(entries, false);
  for (const r of results) assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage ?? '');
  await q.connectionRate.settled();
  return q;
}

describe('sampled rate', () => {
  it('measures over at least samples-1 windows, then over the live samples only', () => {
    const r = new SampledRate(11, 1000);
    r.record(1000, 0);
    assert.equal(r.windowSize(0), 10_000, 'a new rate counts as ten whole windows');
    assert.equal(r.measure(0), 100);
    r.record(1000, 5000);
    assert.equal(r.measure(5000), 200);
    assert.equal(r.windowSize(5500), 10_500, 'plus the part of the current window');
    // At 15 s the sample written at 0 s is older than 11 windows: it starts over empty.
    assert.equal(r.measure(15_000), 100);
    assert.equal(r.windowSize(15_000), 10_000);
    r.record(-1000, 15_000);
    assert.equal(r.measure(15_000), 0, 'a negative record takes a value back');
  });

  it('reuses its samples round robin', () => {
    const r = new SampledRate(3, 100);
    for (let t = 0; t < 1000; t += 100) r.record(10, t);
    // Live samples: those started at 700, 800 and 900; the one of 600 is older than 3 windows.
    assert.equal(r.measure(950), 30 / 0.25);
  });
});

describe('client quota managers', () => {
  it('throttle for (rate - quota) / quota × window once the rate passes the quota', async () => {
    const c = clock(0);
    const q = await quotasWith([set([['client-id', 'c']], { producer_byte_rate: 500 })], c);
    for (let s = 0; s < 10; s++) {
      c.now = s * 1000;
      assert.equal(q.produce.recordAndGetThrottleTimeMs('ANONYMOUS', 'c', 400, c.now), 0, `400 bytes at ${s} s`);
    }
    c.now = 10_000;
    // 6000 bytes over a 10 s window: 600 B/s against 500 B/s.
    assert.equal(q.produce.recordAndGetThrottleTimeMs('ANONYMOUS', 'c', 2000, c.now), 2000);
    assert.equal(q.produce.recordAndGetThrottleTimeMs('ANONYMOUS', 'other', 1_000_000, c.now), 0, 'another client has no quota');
    assert.equal(q.fetch.maybeRecordAndGetThrottleTimeMs('ANONYMOUS', 'c', 1_000_000, c.now), 0, 'no fetch quota was set');
    assert.equal(q.fetch.quotasEnabled, false);
  });

  it('picks the most specific quota in Kafka order, user ANONYMOUS standing for every unauthenticated client', async () => {
    const q = await quotasWith([
      set([['client-id', null]], { consumer_byte_rate: 100 }),
      set([['client-id', 'special']], { consumer_byte_rate: 200 }),
    ]);
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'anyone'), 100, 'default client-id');
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'special'), 200);
    await q.store.alter([set([['user', null]], { consumer_byte_rate: 300 })], false);
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'special'), 300, 'a user quota (here the default user) wins over client-id quotas');
    await q.store.alter([set([['user', 'ANONYMOUS']], { consumer_byte_rate: 400 })], false);
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'special'), 400, 'the user itself wins over the default user');
    await q.store.alter([set([['user', null], ['client-id', 'special']], { consumer_byte_rate: 500 })], false);
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'special'), 400, '<user> beats <default user, client-id>');
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'anyone'), 400);
    await q.store.alter([set([['user', 'ANONYMOUS'], ['client-id', null]], { consumer_byte_rate: 600 })], false);
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'anyone'), 600, '<user, default client-id> beats <user>');
    await q.store.alter([set([['user', 'ANONYMOUS'], ['client-id', 'special']], { consumer_byte_rate: 700 })], false);
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'special'), 700, '<user, client-id> is the most specific');
    await q.store.alter([remove([['user', 'ANONYMOUS'], ['client-id', 'special']], ['consumer_byte_rate'])], false);
    assert.equal(q.fetch.quotaFor('ANONYMOUS', 'special'), 600, 'removed: the next level applies again');
  });

  it('shares one rate between the clients of a user quota, keeps one per client id for client-id quotas', async () => {
    const c = clock(0);
    const perClient = await quotasWith([set([['client-id', null]], { producer_byte_rate: 100 })], c);
    perClient.produce.recordAndGetThrottleTimeMs('ANONYMOUS', 'a', 1000, 0);
    assert.equal(perClient.produce.recordAndGetThrottleTimeMs('ANONYMOUS', 'b', 1000, 0), 0, 'b has its own rate');
    const perUser = await quotasWith([set([['user', null]], { producer_byte_rate: 100 })], c);
    perUser.produce.recordAndGetThrottleTimeMs('ANONYMOUS', 'a', 1000, 0);
    assert.equal(perUser.produce.recordAndGetThrottleTimeMs('ANONYMOUS', 'b', 1000, 0), 10_000, 'a and b share the user rate: 2000 B over 10 s against 100 B/s');
  });

  it('caps request-time throttling at one window and caps fetch sizes at quota × (samples - 1) windows', async () => {
    const q = await quotasWith([set([['client-id', 'busy']], { request_percentage: 0.01, consumer_byte_rate: 1000 })]);
    assert.equal(q.request.recordAndGetThrottleTimeMs('ANONYMOUS', 'busy', 50, 0), 1000);
    assert.equal(q.fetch.maxValueInQuotaWindow('ANONYMOUS', 'busy'), 10_000);
    assert.equal(q.fetch.maxValueInQuotaWindow('ANONYMOUS', 'idle'), Number.MAX_SAFE_INTEGER);
  });

  it('applies to requests: the connection is muted for the larger throttle, a throttled fetch takes its bytes back', async () => {
    const c = clock(0);
    const q = await quotasWith([set([['client-id', 'p']], { producer_byte_rate: 100, consumer_byte_rate: 100 })], c);
    const muted: number[] = [];
    const conn = { throttle: (ms: number) => muted.push(ms) };
    const produce = new RequestQuota(q, 0, 'p', 3000, conn, () => 1000);
    assert.equal(produce.produced(1), 20_000, '3000 B over 10 s: 300 B/s against 100 B/s');
    assert.equal(produce.finish(), 0, 'settled: the dispatcher adds nothing');
    assert.deepEqual(muted, [20_000]);
    const fetch = new RequestQuota(q, 1, 'p', 100, conn, () => 1000);
    assert.equal(fetch.fetched(5000), 40_000);
    assert.equal(q.fetch.recordAndGetThrottleTimeMs('ANONYMOUS', 'p', 1000, 0), 0, 'the throttled fetch was taken back');
    const metadata = new RequestQuota(q, 3, 'p', 100, conn, () => 1000);
    assert.equal(metadata.finish(), 0, 'no request quota configured');
    assert.deepEqual(muted, [20_000, 40_000]);
  });

  it('counts handler work done after a wait in the request time, and work inside the synchronous part once', async () => {
    const q = await quotasWith([set([['client-id', 'busy']], { request_percentage: 0.01 })], clock(0));
    const conn = { throttle: () => {} };
    const busyFor = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    // The synchronous part took 0.001 ms; 20 ms more ran after the handler returned.
    const later = new RequestQuota(q, 0, 'busy', 100, conn, () => 1000);
    later.handlerReturned();
    later.timed(() => busyFor(20));
    // 20 ms over a 10 s window is 0.2 % of a second against 0.01 %: throttled (for one window at most).
    assert.equal(later.produced(1), 1000);
    // Inside the synchronous part, timed work is already in handlingNanos: not counted twice.
    const q2 = await quotasWith([set([['client-id', 'busy']], { request_percentage: 0.01 })], clock(0));
    const synchronous = new RequestQuota(q2, 0, 'busy', 100, conn, () => 1000);
    synchronous.timed(() => busyFor(20));
    synchronous.handlerReturned();
    assert.equal(synchronous.produced(1), 0);
  });
});

describe('controller mutation quota', () => {
  it('is a token bucket of samples × window × rate: strict quotas check it before recording, permissive ones record and throttle', async () => {
    const c = clock(0);
    const q = await quotasWith([set([['client-id', 'm']], { controller_mutation_rate: 2 })], c);
    c.now = 5_000;
    const strict = q.mutation.newQuotaFor('ANONYMOUS', 'm', true, c.fn);
    assert.equal(strict.record(20), true, 'a full bucket of 22');
    assert.equal(strict.record(10), true, 'two left: not empty yet, so it goes below zero');
    assert.equal(strict.throttleTimeMs(), 0);
    assert.equal(strict.record(1), false, 'eight owed');
    assert.equal(strict.throttleTimeMs(), 4000);
    c.now += 1000;
    assert.equal(strict.throttleTimeMs(), 3000, 'less the time since');
    const permissive = q.mutation.newQuotaFor('ANONYMOUS', 'm', false, c.fn);
    assert.equal(permissive.record(4), true);
    assert.equal(permissive.throttleTimeMs(), 5000, 'six owed before, ten after');
    c.now += 5000;
    assert.equal(q.mutation.newQuotaFor('ANONYMOUS', 'm', true, c.fn).record(1), true, 'refilled to zero');
    assert.equal(q.mutation.newQuotaFor('ANONYMOUS', 'other', true, c.fn).record(1_000_000), true, 'another client has no quota');
  });
});

describe('connection creation rate', () => {
  it('counts new connections per address against its quota or the default ip quota; one past it waits (rate - quota) / quota × window, at most a window, and is not counted', async () => {
    const c = clock(0);
    const q = await quotasWith([set([['ip', null]], { connection_creation_rate: 2 }), set([['ip', '10.0.0.9']], { connection_creation_rate: 100 })], c);
    c.now = 5_000;
    // Eleven 1 s samples: the rate is measured over at least ten seconds at first.
    for (let i = 0; i < 20; i++) assert.equal(q.connectionRate.throttleMs('10.0.0.1', c.now), 0, `connection ${i + 1}`);
    assert.equal(q.connectionRate.throttleMs('10.0.0.1', c.now), 500, '21 over 10 s against 2/s');
    assert.equal(q.connectionRate.throttleMs('10.0.0.1', c.now), 500, 'the refused one was not counted');
    for (let i = 0; i < 50; i++) assert.equal(q.connectionRate.throttleMs('10.0.0.9', c.now), 0, 'its own quota');
    assert.equal(q.connectionRate.throttleMs('10.0.0.2', c.now), 0, 'each address has its own rate');
  });

  it('matches an ip entity by the address its name stands for, as Kafka\'s InetAddress.getByName: a host name, another spelling of an address', async () => {
    const c = clock(5_000);
    const q = await quotasWith([set([['ip', 'localhost']], { connection_creation_rate: 1 }), set([['ip', '0:0:0:0:0:0:0:1']], { connection_creation_rate: 1 })], c);
    for (const address of ['127.0.0.1', '::1']) {
      for (let i = 0; i < 10; i++) assert.equal(q.connectionRate.throttleMs(address, c.now), 0, `${address} connection ${i + 1}`);
      assert.ok(q.connectionRate.throttleMs(address, c.now) > 0, `${address}: the 11th over 10 s is past 1/s`);
    }
    const removed = await q.store.alter([remove([['ip', 'localhost']], ['connection_creation_rate'])], false);
    assert.equal(removed[0]!.errorCode, ErrorCode.NONE);
    await q.connectionRate.settled();
    assert.equal(q.connectionRate.throttleMs('127.0.0.1', c.now), 0, 'no quota once removed');
  });

  it('applies stored ip quotas named by host names once load() resolves, before any connection is counted', async () => {
    const persistence = memoryPersistence();
    const first = new ClientQuotas(persistence, { samples: 11, windowSeconds: 1 });
    await first.load();
    assert.equal((await first.store.alter([set([['ip', 'localhost']], { connection_creation_rate: 1 })], false))[0]!.errorCode, ErrorCode.NONE);
    const c = clock(5_000);
    const q = new ClientQuotas(persistence, { samples: 11, windowSeconds: 1 }, c.fn);
    await q.load();
    for (let i = 0; i < 10; i++) assert.equal(q.connectionRate.throttleMs('127.0.0.1', c.now), 0, `connection ${i + 1}`);
    assert.ok(q.connectionRate.throttleMs('127.0.0.1', c.now) > 0, 'the stored quota of localhost is in force');
  });

  it('an ip entity spelling an IPv4-mapped IPv6 address any way applies to the IPv4 address, as Java\'s InetAddress makes it an Inet4Address', async () => {
    for (const name of ['::ffff:10.1.2.3', '::FFFF:10.1.2.3', '0:0:0:0:0:ffff:10.1.2.3', '::ffff:a01:203']) {
      const c = clock(5_000);
      const q = await quotasWith([set([['ip', name]], { connection_creation_rate: 1 })], c);
      for (let i = 0; i < 10; i++) assert.equal(q.connectionRate.throttleMs('10.1.2.3', c.now), 0, `${name}: connection ${i + 1}`);
      assert.ok(q.connectionRate.throttleMs('10.1.2.3', c.now) > 0, `${name}: the 11th over 10 s is past 1/s`);
    }
  });
});

describe('client quota configuration', () => {
  it('validates alterations as Kafka does and applies the valid ones', async () => {
    const persistence = memoryPersistence();
    const store = new ClientQuotaStore(persistence);
    await store.load();
    const results = await store.alter([
      set([['user', 'alice']], { producer_byte_rate: 1024, request_percentage: 12.5 }),
      set([['client-id', 'x']], { producer_byte_rate: 1.5 }),
      set([['client-id', 'y']], { producer_byte_rate: 0 }),
      set([['client-id', 'z']], { connection_creation_rate: 3 }),
      set([['ip', '10.0.0.1']], { connection_creation_rate: 3 }),
      set([['ip', null]], { producer_byte_rate: 3 }),
      set([['ip', 'not a host name!']], { connection_creation_rate: 3 }),
      set([['ip', '10.0.0.2'], ['user', 'bob']], { connection_creation_rate: 3 }),
      set([['group', 'g']], { producer_byte_rate: 3 }),
      set([], { producer_byte_rate: 3 }),
      set([['user', '']], { producer_byte_rate: 3 }),
      set([['ip', '10.0.0.3']], { connection_creation_rate: 3e9 }),
      remove([['client-id', 'never-set']], ['whatever']),
    ], false);
    assert.deepEqual(results.map((r) => [r.errorCode, r.errorMessage]), [
      [ErrorCode.NONE, null],
      [ErrorCode.INVALID_REQUEST, 'producer_byte_rate cannot be a fractional value.'],
      [ErrorCode.INVALID_REQUEST, 'Quota producer_byte_rate must be greater than 0'],
      [ErrorCode.INVALID_REQUEST, 'Invalid configuration key connection_creation_rate'],
      [ErrorCode.NONE, null],
      [ErrorCode.INVALID_REQUEST, 'Invalid configuration key producer_byte_rate'],
      [ErrorCode.INVALID_REQUEST, 'not a host name! is not a valid IP or resolvable host.'],
      [ErrorCode.INVALID_REQUEST, 'Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId'],
      [ErrorCode.INVALID_REQUEST, 'Unhandled client quota entity type: group'],
      [ErrorCode.INVALID_REQUEST, 'Invalid empty client quota entity'],
      [ErrorCode.INVALID_REQUEST, 'Empty user not supported'],
      [ErrorCode.INVALID_REQUEST, 'Proposed value for connection_creation_rate is too large for an INT.'],
      [ErrorCode.NONE, null],
    ]);
    const all = store.describe([], false).entries!;
    assert.deepEqual(all.map((e) => [e.entity, e.values]), [
      [[{ entityType: 'user', entityName: 'alice' }], [{ key: 'producer_byte_rate', value: 1024 }, { key: 'request_percentage', value: 12.5 }]],
      [[{ entityType: 'ip', entityName: '10.0.0.1' }], [{ key: 'connection_creation_rate', value: 3 }]],
    ]);
    // Persisted, and read back by a new store.
    const reloaded = new ClientQuotaStore(persistence);
    await reloaded.load();
    assert.deepEqual(reloaded.describe([], false), store.describe([], false));
  });

  it('keeps Kafka quirks: a duplicated entity or key, validateOnly, removal of the last key', async () => {
    const store = new ClientQuotaStore(memoryPersistence());
    await store.load();
    const dup = await store.alter([
      set([['client-id', 'a']], { producer_byte_rate: 10 }),
      set([['client-id', 'a']], { producer_byte_rate: 20 }),
      { entity: [{ entityType: 'client-id', entityName: 'b' }], ops: [{ key: 'producer_byte_rate', value: 1, remove: false }, { key: 'producer_byte_rate', value: 2, remove: false }] },
    ], false);
    assert.deepEqual(dup.map((r) => [r.entity, r.errorCode, r.errorMessage]), [
      [[{ entityType: 'client-id', entityName: 'a' }], ErrorCode.INVALID_REQUEST, 'Ignoring duplicate entity ClientQuotaEntity(entries={client-id=a})'],
      [[{ entityType: 'client-id', entityName: 'b' }], ErrorCode.INVALID_REQUEST, 'Ignoring duplicate entity ClientQuotaEntity(entries={client-id=b})'],
    ]);
    assert.deepEqual(store.describe([], false).entries!.map((e) => [e.entity[0]!.entityName, e.values[0]!.value]), [['a', 10]], 'the first alteration of a is applied, b is not');
    const checked = await store.alter([set([['client-id', 'c']], { consumer_byte_rate: 5 })], true);
    assert.equal(checked[0]!.errorCode, ErrorCode.NONE);
    assert.equal(store.describe([{ entityType: 'client-id', matchType: 0, match: 'c' }], false).entries!.length, 0, 'validateOnly changes nothing');
    await store.alter([remove([['client-id', 'a']], ['producer_byte_rate'])], false);
    assert.deepEqual(store.describe([], false).entries, [], 'an entity without quotas is gone');
  });

  it('filters descriptions by exact name, default entity or any name, strictly or not', async () => {
    const store = new ClientQuotaStore(memoryPersistence());
    await store.load();
    await store.alter([
      set([['user', 'alice']], { producer_byte_rate: 1 }),
      set([['user', 'alice'], ['client-id', 'app']], { producer_byte_rate: 2 }),
      set([['user', null]], { producer_byte_rate: 3 }),
      set([['client-id', null]], { producer_byte_rate: 4 }),
      set([['ip', null]], { connection_creation_rate: 5 }),
    ], false);
    const values = (components: { entityType: string; matchType: number; match: string | null }[], strict: boolean) =>
      store.describe(components, strict).entries!.map((e) => e.values[0]!.value);
    assert.deepEqual(values([{ entityType: 'user', matchType: 0, match: 'alice' }], false), [1, 2]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 0, match: 'alice' }], true), [1]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 1, match: null }], false), [3]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 2, match: null }], false), [1, 2, 3]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 2, match: null }, { entityType: 'client-id', matchType: 2, match: null }], true), [2]);
    assert.deepEqual(values([{ entityType: 'client-id', matchType: 1, match: null }], true), [4]);
    assert.deepEqual(values([{ entityType: 'ip', matchType: 2, match: null }], false), [5]);
    assert.deepEqual(values([], true), [], 'strict with no components matches no entity');
    const error = (components: { entityType: string; matchType: number; match: string | null }[]) => {
      const r = store.describe(components, false);
      assert.equal(r.entries, null);
      return [r.errorCode, r.errorMessage];
    };
    assert.deepEqual(error([{ entityType: 'group', matchType: 2, match: null }]), [ErrorCode.UNSUPPORTED_VERSION, 'Unsupported entity type group']);
    assert.deepEqual(error([{ entityType: 'user', matchType: 0, match: null }]), [ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_EXACT, but set match string to null.']);
    assert.deepEqual(error([{ entityType: 'user', matchType: 1, match: 'x' }]), [ErrorCode.INVALID_REQUEST, 'Request specified MATCH_TYPE_DEFAULT, but also specified a match string.']);
    assert.deepEqual(error([{ entityType: 'user', matchType: 2, match: null }, { entityType: 'user', matchType: 2, match: null }]), [ErrorCode.INVALID_REQUEST, 'Entity type user cannot appear more than once in the filter.']);
    assert.deepEqual(error([{ entityType: 'ip', matchType: 2, match: null }, { entityType: 'user', matchType: 2, match: null }]),
      [ErrorCode.INVALID_REQUEST, 'Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.']);
    assert.deepEqual(error([{ entityType: 'user', matchType: 7, match: null }]), [ErrorCode.INVALID_REQUEST, 'Unknown match type 7']);
  });
});
