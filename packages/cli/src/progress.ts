import type { ProgressEvent } from '@tally/core';

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1) + ' MB';
}

/**
 * One status line on stderr, redrawn at most ten times a second; only when stderr is a terminal.
 * The image reference is shown after control characters are stripped (it may come from a hostile archive name).
 */
export function terminalProgress(stream: NodeJS.WriteStream): { onProgress: (e: ProgressEvent) => void; done: () => void } {
  let ref = '';
  let layers = 0;
  let finished = 0;
  let total: number | null = null;
  let read = 0;
  let last = 0;
  const draw = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const bytes = total ? `${mb(read)} / ${mb(total)}` : mb(read);
    const line = `Scanning ${ref}: ${finished}/${layers} layers, ${bytes}`;
    stream.write(`\r\x1b[2K${line.slice(0, Math.max(20, (stream.columns ?? 80) - 1))}`);
  };
  return {
    onProgress(e) {
      switch (e.kind) {
        case 'image':
          ref = e.ref.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
          layers = e.layers;
          total = e.totalBytes;
          break;
        case 'bytes':
          read += e.bytes;
          break;
        case 'layer-done':
          finished++;
          break;
        case 'layer-start':
          break;
      }
      draw(e.kind !== 'bytes');
    },
    done() {
      if (last > 0) stream.write('\r\x1b[2K');
    },
  };
}
