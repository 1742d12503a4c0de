import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The lifecycle suite ends by taking the shared stack down, so it must run after every
 * other file that uses the stack; everything else keeps vitest's own order.
 */
export class LifecycleLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (f: TestSpecification) => (f.moduleId.includes('lifecycle') ? 1 : 0);
    return [...sorted].sort((a, b) => last(a) - last(b));
  }
}
