// Each error class's hint: the thrower's when it names one, else the class's default.
import { describe, expect, it } from 'vitest';
import { DeployError, EXIT, JohannaError, PackageError, StateError, VerifyError } from '../../src/errors.js';

describe('error hints', () => {
  it('a class with a default hint gives it when the thrower names none (or undefined)', () => {
    expect(new DeployError('x').hint).toBe('the live environment was not touched; see the events above and ./run logs');
    expect(new DeployError('x', undefined).hint).toBe(DeployError.defaultHint);
    expect(new VerifyError('x').hint).toMatch(/rollback swaps back/);
    expect(new PackageError('x').hint).toMatch(/nothing was uploaded/);
  });

  it("the thrower's own hint wins; classes without a default have none", () => {
    expect(new DeployError('x', 'mine').hint).toBe('mine');
    expect(new StateError('x').hint).toBeUndefined();
    expect(new JohannaError('x').hint).toBeUndefined();
    expect(new DeployError('x').exitCode).toBe(EXIT.failed);
  });
});
