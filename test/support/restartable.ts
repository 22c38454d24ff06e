/**
 * An embedded disk broker on a data directory of its own, which a test stops and starts again
 * (to damage its files in between), with a raw client connected to the running one.
 */
import { type RunningBroker, type StartBrokerOptions, startBroker } from '../../src/index.js';
import { tempDir } from './processes.js';
import { RawClient } from './raw-client.js';

export class RestartableBroker {
  private readonly dir = tempDir();
  private running: { broker: RunningBroker; raw: RawClient } | null = null;

  constructor(private readonly options: StartBrokerOptions = {}) {}

  get dataDir(): string {
    return this.dir.path;
  }

  get broker(): RunningBroker {
    if (this.running === null) throw new Error('the broker is stopped');
    return this.running.broker;
  }

  get raw(): RawClient {
    if (this.running === null) throw new Error('the broker is stopped');
    return this.running.raw;
  }

  async start(): Promise<void> {
    const broker = await startBroker({ port: 0, ...this.options, storage: 'disk', dataDir: this.dir.path });
    this.running = { broker, raw: await RawClient.connect(broker.port) };
  }

  async stop(): Promise<void> {
    const running = this.running;
    this.running = null;
    running?.raw.close();
    await running?.broker.stop();
  }

  /** Stops the broker if it runs and removes its data directory. */
  async remove(): Promise<void> {
    await this.stop();
    this.dir.remove();
  }
}
