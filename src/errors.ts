// Errors a person reads. Every failure tcr reports names what was wrong
// (a config field, a file, a step of the launch plan) and why.

const BRAND = Symbol.for('tcr.error');

export class TcrError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TcrError';
  }

  /**
   * Each of dist/'s bundles carries its own copy of this class: `instanceof
   * TcrError` recognises an error made by any of them by its brand. Subclasses
   * keep the ordinary prototype check.
   */
  static override [Symbol.hasInstance](x: unknown): boolean {
    if (this !== TcrError) return Function.prototype[Symbol.hasInstance].call(this, x);
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
  }
}
Object.defineProperty(TcrError.prototype, BRAND, { value: true });

/** A config.json field that is missing or wrong: names the field's JSON path. */
export class SpecError extends TcrError {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`config.json: ${field}: ${reason}`);
    this.name = 'SpecError';
  }
}

/** A launch-plan step the kernel refused, as the executor reported it. */
export class StepError extends TcrError {
  /** `op`: the step's PlanOp, when known */
  constructor(
    readonly step: number,
    readonly label: string,
    readonly errno: number,
    readonly errnoName: string,
    detail: string,
    failure?: string,
    readonly op?: number,
  ) {
    const where = `step ${step} ${label}: ${errnoName}${detail ? ` (${detail})` : ''}`;
    super(failure ? `${failure} (${where})` : where);
    this.name = 'StepError';
  }
}

/** The errno name (ENOENT, EEXIST, ...) of a failed Node system call, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
