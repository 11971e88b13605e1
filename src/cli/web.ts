// `topo web [LAB] [--port N] [--open]`: a live page of a running lab on 127.0.0.1, until the lab stops or Ctrl-C.
import { spawn } from 'node:child_process';
import { socketOf } from '../control/labs.js';
import { startWebServer } from '../web/server.js';
import { findLab, type LabFlags } from './lab-args.js';

export interface WebFlags extends LabFlags {
  port?: number;
  open?: boolean;
}

export async function webCommand(lab: string | undefined, flags: WebFlags): Promise<number> {
  const entry = await findLab(lab, flags);
  const web = await startWebServer({ sockPath: socketOf(entry), lab: entry.lab, port: flags.port });
  process.stdout.write(`topo web: ${web.url}\n`);
  if (flags.open) openBrowser(web.url);
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    void web.close();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await web.closed;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (!interrupted) process.stderr.write(`topo web: lab ${entry.lab} stopped\n`);
  return interrupted ? 130 : 0;
}

/** The desktop's browser; where there is none, the printed line is enough. */
function openBrowser(url: string): void {
  try {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write('topo web: could not open a browser (no xdg-open); open the address above\n'));
    child.unref();
  } catch {
    // spawn itself failing is reported by the error event
  }
}
