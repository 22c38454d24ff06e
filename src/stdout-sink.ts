/**
 * Where the JSON log goes: stdout (stderr for an embedded broker), written in the background,
 * with a bound on what waits.
 *
 * Not one of pino's own destinations: a synchronous one stalls the whole broker once a pipe that
 * nobody reads is full (64 KiB of log: a harness that stops reading after "listening"), and the
 * asynchronous one is flushed synchronously at exit, which retries a write to a closed stdout
 * forever (`samsa | head`) or blocks on a full pipe, so the process never exits. Here at most
 * MAX_PENDING_BYTES (or one longer line) wait (later lines are dropped, and their count logged once stdout moves
 * again), a broken stdout ends logging, and an exit waits for the log only as long as
 * `flushStdoutLog` is told to.
 */
import { write } from 'node:fs';

const MAX_PENDING_BYTES = 1 << 20;
/** How soon a write that met a full non-blocking pipe (EAGAIN) is tried again. */
const RETRY_MS = 20;

class LogSink {
  constructor(
    private readonly fd: number,
    private readonly name: string,
  ) {}

  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private broken = false;
  private dropped = 0;
  private idle: (() => void)[] = [];

  /** Called by pino with one serialized line. */
  write(line: string): boolean {
    if (this.broken) return true;
    // A line longer than the bound on its own still goes out once nothing else waits.
    if (this.pendingBytes > 0 && this.pendingBytes + line.length > MAX_PENDING_BYTES) {
      this.dropped++;
      return true;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (!this.writing) this.writeNext();
    return true;
  }

  /**
   * Resolves once everything logged so far is written (or cannot be), or after timeoutMs. The
   * timer keeps the process alive meanwhile: a retry after EAGAIN does not, and without it a
   * broker with nothing else left to do would end on its own, before its exit code is set.
   */
  flush(timeoutMs: number): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private writeNext(): void {
    if (this.dropped > 0 && !this.broken) {
      this.pending.push(`${JSON.stringify({ level: 40, time: Date.now(), name: 'samsa', dropped: this.dropped, msg: `${this.dropped} log lines dropped: ${this.name} was not read fast enough` })}\n`);
      this.dropped = 0;
    }
    if (this.broken || this.pending.length === 0) {
      this.writing = false;
      for (const done of this.idle.splice(0)) done();
      return;
    }
    this.writing = true;
    const chunk = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingBytes = 0;
    this.writeChunk(chunk);
  }

  private writeChunk(chunk: Buffer): void {
    write(this.fd, chunk, 0, chunk.length, null, (err, written) => {
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
        setTimeout(() => this.writeChunk(chunk), RETRY_MS).unref();
      } else if (err) {
        // EPIPE, EBADF …: nobody will read the log again.
        this.broken = true;
        this.pending = [];
        this.pendingBytes = 0;
        this.writeNext();
      } else if (written < chunk.length) {
        this.writeChunk(chunk.subarray(written));
      } else {
        this.writeNext();
      }
    });
  }
}

let sink: LogSink | undefined;
let errSink: LogSink | undefined;

/** The one stdout sink of this process: every JSON logger shares it, so their lines stay whole and in order. */
export function stdoutSink(): LogSink {
  return (sink ??= new LogSink(1, 'stdout'));
}

/** The same on stderr: embedded brokers log there, leaving stdout to the program (a test runner's report). */
export function stderrSink(): LogSink {
  return (errSink ??= new LogSink(2, 'stderr'));
}

/** Before exiting: lets the log written so far reach stdout, waiting at most timeoutMs. */
export function flushStdoutLog(timeoutMs = 1000): Promise<void> {
  return sink ? sink.flush(timeoutMs) : Promise.resolve();
}
