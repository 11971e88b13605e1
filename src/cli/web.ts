// `topo web [LAB] [--port N] [--open]`: a live page of a running lab on 127.0.0.1, until the lab stops or Ctrl-C.
import { spawn } from 'node:child_process';
import { socketOf } from '../control/labs.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { findLab, type LabFlags } from './lab-args.js';

export interface WebFlags extends LabFlags {
  port?: number;
  open?: boolean;
}

export async function webCommand(lab: string | undefined, flags: WebFlags): Promise<number> {
  // Handlers first: a Ctrl-C right after the address is printed must find them in place.
  let interrupted = false;
  let web: WebServer | undefined;
  const onSignal = () => {
    interrupted = true;
    void web?.close();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const entry = await findLab(lab, flags);
    web = await startWebServer({ sockPath: socketOf(entry), lab: entry.lab, port: flags.port });
    if (interrupted) await web.close();
    else process.stdout.write(`topo web: ${web.url}\n`);
    if (flags.open && !interrupted) openBrowser(web.url);
    await web.closed;
    if (!interrupted) process.stderr.write(`topo web: lab ${entry.lab} stopped\n`);
    return interrupted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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
