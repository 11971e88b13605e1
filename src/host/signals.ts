// The one owner of process signals: the first SIGINT/SIGTERM/SIGHUP asks for a graceful stop, the next forces it.

export type StopRequest = (force: boolean, signal: NodeJS.Signals) => void;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Install handlers; returns a function that removes them. */
export function ownSignals(onStop: StopRequest): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    onStop(count > 1, signal);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
}
