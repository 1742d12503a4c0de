/** The machine model: what a host (worker, gateway, simulator) imports. */
export {
  COMMAND_TYPES,
  type Command,
  type CommandResult,
  type CommandType,
  clearFaultSchema,
  commandSchema,
  completeMaintenanceSchema,
  FAULT_KINDS,
  type FaultKind,
  faultParamsSchemas,
  injectFaultSchema,
  parseCommand,
  SENSOR_FIELDS,
  type SensorField,
  setSpeedSchema,
  startMaintenanceSchema,
  startSchema,
  stopSchema,
} from './commands.js';
export {
  DEFAULT_FLEET_FILE,
  type DerivedFleet,
  deriveFleet,
  type Fleet,
  type FleetMachine,
  fleetSchema,
  fleetTypes,
  loadFleet,
  machineIdOf,
  parseFleet,
  validateFleet,
} from './fleet.js';
export { commandInPlace, createHeadless, runTicks } from './headless.js';
export {
  applyCommand,
  createMachineModel,
  type MachineActor,
  type MachineModel,
  type MachineSnapshot,
  startMachineActor,
  stopMachineActor,
} from './machine.js';
export { stationaryDistribution, transitionMatrix } from './markov.js';
export {
  initialContext,
  type MachineContext,
  type MachineEvent,
  type MachineInput,
  type Rejection,
  type ResumeEvent,
  type TickEvent,
} from './model.js';
export {
  DEFAULT_PARAMS,
  MACHINE_STATES,
  type MachineParams,
  type MachineState,
  mergeParams,
  resolveParams,
} from './params.js';
export { machineSeed } from './random.js';
export { rejectionOf, step, stepInPlace } from './step.js';
export { type MachineIds, type TelemetryV1, telemetryOf } from './telemetry.js';
