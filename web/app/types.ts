/**
 * Response types the page needs that schemas.ts declares only as zod schemas. `import type`
 * keeps zod out of the bundle: `typeof` of a type-only import is erased at build time.
 */
import type { z } from 'zod';
import type {
  alarmAnswerResponseSchema,
  commandAnswerResponseSchema,
  kpisResponseSchema,
  lineKpiSchema,
  openTicketResponseSchema,
  pipelineComponentSchema,
} from '../api/schemas.js';

export type AlarmAnswer = z.infer<typeof alarmAnswerResponseSchema>;
export type CommandAnswer = z.infer<typeof commandAnswerResponseSchema>;
export type OpenedTicket = z.infer<typeof openTicketResponseSchema>;
export type LineKpi = z.infer<typeof lineKpiSchema>;
export type KpisResponse = z.infer<typeof kpisResponseSchema>;
export type PipelineComponent = z.infer<typeof pipelineComponentSchema>;
