// IAM is eventually consistent: a role or instance profile that IAM itself already answers
// for is not yet usable by EC2 or Elastic Beanstalk for a while. AWS gives no figure, only
// that changes "take time to become visible" and that callers should verify propagation
// before depending on them (IAM User Guide, "Changes that I make are not always immediately
// visible": https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency;
// aws-rules.md R8). The front notes every IAM create that moto accepted; EC2 and EB ask
// here whether the other services can see it yet.

export type IamKind = 'role' | 'instance-profile' | 'instance-profile-role';

/** Keyed by kind and name: `instance-profile-role` is keyed by the profile's name. */
export class IamPropagation {
  private readonly createdAt = new Map<string, number>();

  constructor(readonly delayMs: number) {}

  private key(kind: IamKind, name: string): string {
    return `${kind}\u0000${name}`;
  }

  /** moto accepted the create at `at`; other services see it `delayMs` later. */
  noteCreated(kind: IamKind, name: string, at = Date.now()): void {
    this.createdAt.set(this.key(kind, name), at);
  }

  /** A delete: a later create of the same name starts a new window. */
  noteDeleted(kind: IamKind, name: string): void {
    this.createdAt.delete(this.key(kind, name));
  }

  /**
   * Whether EC2 and EB can see it by now. Something this sandbox never saw created (made
   * before it started, or never made) is not delayed: whether it exists is moto's answer.
   */
  visible(kind: IamKind, name: string, now = Date.now()): boolean {
    const at = this.createdAt.get(this.key(kind, name));
    return at === undefined || now - at >= this.delayMs;
  }

  /** When it becomes visible (epoch ms), or undefined when it already is. */
  visibleAt(kind: IamKind, name: string, now = Date.now()): number | undefined {
    const at = this.createdAt.get(this.key(kind, name));
    return at === undefined || now - at >= this.delayMs ? undefined : at + this.delayMs;
  }
}
