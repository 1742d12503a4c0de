/** The workflow bundle's entry (the samples' `workflows.ts`): every workflow the worker runs. */
export { alarmEscalation } from './escalation.js';
export { maintenanceTicket } from './ticket.js';
