/**
 * Staged bytes in shared memory. Each chunk of a member is copied once into a SharedArrayBuffer
 * block; the writer worker and the JSON worker then read that same memory (posting a view of a
 * SharedArrayBuffer shares it), instead of each message copying the bytes twice (serialise and
 * deserialise) and the JSON check copying them again into batches. A block is only appended to,
 * never changed once a view of it is handed out, so readers need no synchronisation.
 */

/** Block size; chunks larger than a block get a block of their own. */
export const SHARED_BLOCK_BYTES = 4 << 20;

export interface SharedChunks {
  /** A view of a shared copy of `chunk`; consecutive copies are contiguous within a block. */
  copy(chunk: Uint8Array): Uint8Array;
}

export function sharedChunks(blockBytes = SHARED_BLOCK_BYTES): SharedChunks {
  let block: SharedArrayBuffer | undefined;
  let used = 0;
  return {
    copy(chunk) {
      if (block === undefined || used + chunk.length > block.byteLength) {
        block = new SharedArrayBuffer(Math.max(blockBytes, chunk.length));
        used = 0;
      }
      const view = new Uint8Array(block, used, chunk.length);
      view.set(chunk);
      used += chunk.length;
      return view;
    },
  };
}

/** `b` extended by `next` when `next` follows it in the same shared block, else undefined. */
export function joinShared(b: Uint8Array, next: Uint8Array): Uint8Array | undefined {
  if (
    b.buffer !== next.buffer ||
    !(b.buffer instanceof SharedArrayBuffer) ||
    b.byteOffset + b.length !== next.byteOffset
  )
    return undefined;
  return new Uint8Array(b.buffer, b.byteOffset, b.length + next.length);
}
