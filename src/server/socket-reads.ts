/**
 * Choosing where each socket read lands. Node otherwise reads every socket into a fresh 64 KiB
 * buffer: at hundreds of MB/s of produce traffic that is a stream of external allocations that
 * drive V8 into repeated full GCs, plus a copy to reassemble each frame. Node's `onread` socket
 * option lets the reader name the buffer of every read, but `net.Server` has no such option for
 * the sockets it accepts, so the accepted socket's handle is moved into a Socket built with it.
 * The accepted socket stays behind as the shell the server counts, and is destroyed when the new
 * one closes. A socket without a handle to move (none today; TLS later) keeps Node's 'data' events.
 */
import { Socket } from 'node:net';

export interface ReadSink {
  /** The buffer the next read fills (from its start). */
  target(): Buffer;
  /** The bytes just read: a view of the start of `target()`, or a chunk Node read on its own. */
  landed(bytes: Buffer): void;
}

export function readInto(accepted: Socket, sink: ReadSink): Socket {
  const handle = (accepted as unknown as { _handle?: unknown })._handle;
  if (typeof handle !== 'object' || handle === null) {
    accepted.on('data', (chunk: Buffer) => sink.landed(chunk));
    accepted.resume();
    return accepted;
  }
  // `handle` is an option Node's own net.Server uses and its typings leave out.
  const socket = new Socket({
    handle,
    readable: true,
    writable: true,
    // A client that ends its side after sending still gets its answers (Connection).
    allowHalfOpen: true,
    onread: {
      buffer: () => sink.target(),
      callback: (n: number, buf: Uint8Array) => {
        sink.landed((buf as Buffer).subarray(0, n));
      },
    },
  } as ConstructorParameters<typeof Socket>[0]);
  (accepted as unknown as { _handle: unknown })._handle = null;
  socket.once('close', () => accepted.destroy());
  return socket;
}
