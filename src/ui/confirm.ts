// The phase confirmation: the operator types the phase name. At a TTY we prompt; piped
// stdin gives one line (so `echo dv | ./run create_vpc` works as in the original); at the
// end of input we fail at once, because a cron job must never hang on a prompt.
import { CanceledError, NonInteractiveError } from '../errors.js';
import type { Logger } from './log.js';

export interface ConfirmIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** The interactive prompt (inquirer at a TTY); injectable for tests. */
  ask?: (message: string) => Promise<string>;
  /** The phase config the run read, named in the prompt (issue 22 item 6). */
  configFile?: string;
  /** What a terminating command will destroy, listed before the question. */
  destroys?: string[];
}

export async function confirmPhase(phase: string, cname: string, log: Logger, io: ConfirmIO): Promise<void> {
  log.info(io.configFile ? `The phase config ${io.configFile} says:` : 'The phase config says:');
  log.info(`    PHASE         : '${phase}'`);
  log.info(`    CNAME of Nova : '${cname}'`);
  if (io.destroys?.length) {
    log.warn('this destroys, for good:');
    for (const d of io.destroys) log.info(`    - ${d}`);
  }
  const message = `Please type in the name of phase '${phase}' to confirm:`;
  let answer: string | undefined;
  if (io.stdin.isTTY) {
    const ask = io.ask ?? (async (m: string) => (await import('@inquirer/prompts')).input({ message: m }));
    try {
      answer = await ask(message);
    } catch (err) {
      // inquirer throws on Ctrl-C / closed input: that is a cancel, not a crash.
      if ((err as Error).name === 'ExitPromptError' || (err as Error).name === 'AbortPromptError') throw new CanceledError('canceled at the confirmation prompt');
      throw err;
    }
  } else {
    log.info(message);
    answer = await readLine(io.stdin);
    if (answer === undefined) throw new NonInteractiveError(phase);
  }
  if (answer.trim() !== phase) {
    throw new CanceledError(`canceled: you typed '${answer.trim()}', not the phase name '${phase}'`);
  }
}

/** One line from a non-TTY stream; undefined at the end of input with nothing read. */
export function readLine(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (value: string | undefined) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      buf += chunk.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl).replace(/\r$/, ''));
    };
    const onEnd = () => done(buf.length ? buf : undefined);
    const onError = (err: Error) => reject(err);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}
