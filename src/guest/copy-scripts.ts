// The guest side of a copy (src/scenario/copy.ts); the lab's journal knows a cp by these exact scripts (src/control/record.ts).
import { MAX_DATA_BYTES } from './agent-client.js';

/** A copied file travels whole in one agent request: 64 MiB of content, whatever the encoding. */
export const MAX_COPY_BYTES = MAX_DATA_BYTES;

// Written beside the target and renamed: a failed copy never leaves half a file under the real name.
export const UPLOAD_SCRIPT = 'set -e; t="$1.topo-cp.$$"; cat > "$t"; chmod "$2" "$t"; mv -f "$t" "$1"';
// -L: a symlink's target decides, for the size check and for the mode.
export const DOWNLOAD_HEAD_SCRIPT = 'test -f "$1" || { echo "not a regular file" >&2; exit 1; }; stat -L -c "%a %s" "$1"';
/** The second exec of a download: the bytes, bounded whatever the guest said (one byte past the limit tells it is too large). */
export const downloadBodyArgv = (guestPath: string): string[] => ['head', '-c', String(MAX_COPY_BYTES + 1), guestPath];
