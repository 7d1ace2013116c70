// Root hooks for every spec: sinon fakes never leak from one test into the next.
import sinon from 'sinon';

export const mochaHooks = {
  afterEach(): void {
    sinon.restore();
  },
};
