import type { RoleDefinition } from './policy-document';

/**
 * Role inheritance, resolved ahead of time. Every role gets an index; a subject's effective
 * roles are a byte mask over those indexes, so "does this rule apply to the subject" is a few
 * array reads instead of a graph walk.
 *
 * Masks for single roles are precomputed at load. Masks for multi-role sets are computed on
 * first sight and kept in a small LRU keyed by the sorted role list (subjects of one app share
 * a handful of role combinations). Roles the policy does not define grant nothing and are
 * ignored. The graph is acyclic: `validatePolicyDocument` rejects cycles before we get here.
 */
export class RoleGraph {
  /** Role name -> index into a mask. */
  readonly index: ReadonlyMap<string, number>;
  readonly names: readonly string[];
  private readonly single = new Map<string, Uint8Array>();
  private readonly lru = new Map<string, Uint8Array>();
  private readonly empty: Uint8Array;

  constructor(
    roles: Readonly<Record<string, RoleDefinition>>,
    private readonly cacheSize = 1024,
  ) {
    this.names = Object.keys(roles);
    const index = new Map<string, number>();
    this.names.forEach((name, i) => index.set(name, i));
    this.index = index;
    this.empty = new Uint8Array(this.names.length);
    for (const name of this.names) {
      const mask = new Uint8Array(this.names.length);
      const stack = [name];
      while (stack.length > 0) {
        const role = stack.pop()!;
        const i = index.get(role)!;
        if (mask[i] === 1) continue;
        mask[i] = 1;
        for (const parent of roles[role].inherits ?? []) stack.push(parent);
      }
      this.single.set(name, mask);
    }
  }

  /** The effective-role mask of a subject's assigned roles (shared: callers must not mutate it). */
  maskOf(roles: readonly string[]): Uint8Array {
    if (roles.length === 1) return this.single.get(roles[0]) ?? this.empty;
    if (roles.length === 0) return this.empty;
    // The cache key joins role names with "\n", which valid role names cannot contain; a set with
    // an unknown (possibly hostile) name is computed uncached, so no two sets can share a key.
    for (let i = 0; i < roles.length; i++) {
      if (!this.single.has(roles[i])) return this.compute(roles);
    }
    const key =
      roles.length === 2
        ? roles[0] < roles[1]
          ? `${roles[0]}\n${roles[1]}`
          : `${roles[1]}\n${roles[0]}`
        : [...roles].sort().join('\n');
    let mask = this.lru.get(key);
    if (mask !== undefined) {
      // Map iteration order is insertion order: re-inserting marks the entry most recently used.
      this.lru.delete(key);
      this.lru.set(key, mask);
      return mask;
    }
    mask = this.compute(roles);
    if (this.lru.size >= this.cacheSize) this.lru.delete(this.lru.keys().next().value!);
    this.lru.set(key, mask);
    return mask;
  }

  private compute(roles: readonly unknown[]): Uint8Array {
    const mask = new Uint8Array(this.names.length);
    for (const role of roles) {
      const m = typeof role === 'string' ? this.single.get(role) : undefined;
      if (m === undefined) continue;
      for (let i = 0; i < m.length; i++) mask[i] |= m[i];
    }
    return mask;
  }

  /** Number of cached multi-role masks (for tests). */
  get cachedSets(): number {
    return this.lru.size;
  }

  /** Effective role names (for explain()). */
  effectiveRoles(roles: readonly string[]): string[] {
    const mask = this.maskOf(roles);
    return this.names.filter((_n, i) => mask[i] === 1);
  }
}
