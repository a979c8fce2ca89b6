import type { RotationDue } from './rotation-policy';

/** Options of the in-process rotation scheduler (KeyRingOptions.autoRotate). */
export interface AutoRotateOptions {
  /** How often the ring checks for due keys (ms, default 3 600 000: hourly; minimum 1 000). */
  checkEveryMs?: number;
  /** Called with the keys this process rotated in a check (none: not called). */
  onRotated?(rotated: RotationDue[]): void;
  /** Called when a check fails (store or provider down); the next check tries again. */
  onError?(error: unknown): void;
}

export const DEFAULT_AUTO_ROTATE_CHECK_MS = 3_600_000;

/**
 * Runs `rotateDue` once after open and then every `checkEveryMs`, on unref'd timers (it never keeps the process alive),
 * one run at a time; stop() clears the timer and waits for a run under way. For single-instance
 * apps; with many instances, a cron job running `bulwark keys rotate --due` is easier to reason
 * about, but instances that all run this are safe too (see NamedKeys.rotateIfDue).
 * @internal
 */
export class RotationScheduler {
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly rotateDue: () => Promise<RotationDue[]>,
    private readonly options: AutoRotateOptions,
  ) {
    this.timer = setInterval(() => void this.tick(), options.checkEveryMs ?? DEFAULT_AUTO_ROTATE_CHECK_MS);
    this.timer.unref();
    // One check right after open too: an app restarted more often than checkEveryMs (deploys)
    // would otherwise never reach a check.
    this.first = setTimeout(() => void this.tick(), 0);
    this.first.unref();
  }

  /** One check now (also what the timer runs); resolves when it is done. */
  tick(): Promise<void> {
    if (this.running !== undefined) return this.running;
    const run = this.rotateDue()
      .then((rotated) => {
        if (rotated.length > 0) this.options.onRotated?.(rotated);
      })
      .catch((error: unknown) => {
        try {
          this.options.onError?.(error);
        } catch {
          // A throwing error handler must not become an unhandled rejection of the timer.
        }
      })
      .finally(() => {
        this.running = undefined;
      });
    this.running = run;
    return run;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearTimeout(this.first);
    this.timer = undefined;
    this.first = undefined;
    await this.running;
  }
}
