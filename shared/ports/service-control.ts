/**
 * The narrow service-control interface used for 128T, salt-master (conductor) and salt-minion
 * (router). Real hosts use systemctl; every verb can be replaced by a configured command line
 * (`services.<name>.start|stop|restart|isActive`), and tests inject a fake.
 */
import { ServiceError } from '../errors.js';
import { splitCommandLine, systemProcessRunner, type ProcessRunner } from './process-runner.js';

export interface ServiceControl {
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
  isActive(): Promise<boolean>;
  /** The name used in reports and errors (e.g. `128T`). */
  readonly name: string;
}

/** Command lines per verb; any missing verb falls back to `systemctl <verb> <unit>`. */
export interface ServiceCommands {
  start?: string | undefined;
  stop?: string | undefined;
  restart?: string | undefined;
  isActive?: string | undefined;
}

export interface CommandServiceOptions {
  name: string;
  /** The systemd unit used for verbs with no configured command. */
  unit: string;
  commands?: ServiceCommands;
  runner?: ProcessRunner;
  timeoutMs?: number;
}

/** A ServiceControl that runs systemctl or the configured command lines. */
export function commandServiceControl(options: CommandServiceOptions): ServiceControl {
  const runner = options.runner ?? systemProcessRunner;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const argvFor = (verb: keyof ServiceCommands): string[] => {
    const configured = options.commands?.[verb];
    if (configured) return splitCommandLine(configured);
    const sysVerb = verb === 'isActive' ? 'is-active' : verb;
    return verb === 'isActive' ? ['systemctl', sysVerb, '--quiet', options.unit] : ['systemctl', sysVerb, options.unit];
  };
  const act = async (verb: 'start' | 'stop' | 'restart'): Promise<void> => {
    const argv = argvFor(verb);
    const r = await runner.run(argv, { timeoutMs });
    if (r.code !== 0) {
      throw new ServiceError('SERVICE_FAILED', `${verb} ${options.name} failed (exit ${r.code ?? r.signal})`, {
        details: { service: options.name, verb, argv, stderr: r.stderr.slice(-2000) },
        hint: `Check the service with: systemctl status ${options.unit}`,
      });
    }
  };
  return {
    name: options.name,
    start: () => act('start'),
    stop: () => act('stop'),
    restart: () => act('restart'),
    async isActive() {
      const r = await runner.run(argvFor('isActive'), { timeoutMs });
      return r.code === 0;
    },
  };
}
