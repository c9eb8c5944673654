// tcr as a library: the runtime the CLI is built on.
export { Runtime, type CreateOptions, type RunOptions } from './container/runtime.js';
export { Container } from './container/container.js';
export { buildLaunchPlan } from './linux/launch-plan.js';
export { formatPlan, encodePlan, type Plan } from './linux/plan.js';
export type { PlanStep } from './linux/plan-steps.js';
export { defaultSpec } from './spec/defaults.js';
export { validateSpec } from './spec/validate.js';
export type * from './spec/types.js';
export { TcrError, SpecError, StepError } from './errors.js';
export { ImageStore } from './image/store.js';
export { runImage } from './run/image-run.js';
export { unpackImage } from './run/unpack-image.js';
