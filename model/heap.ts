// A binary min-heap with a caller-supplied order. Ties are broken by the order function only, so
// callers must make it total (time, then kind, then sender, then sequence) for determinism.

export class Heap<T> {
  private items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** Every item, in no particular order. */
  all(): readonly T[] {
    return this.items;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** After the top item's key grew in place: is it still before both children (no sift needed)? */
  topStillFirst(): boolean {
    const a = this.items;
    return (a.length < 2 || this.before(a[0]!, a[1]!)) && (a.length < 3 || this.before(a[0]!, a[2]!));
  }

  /** Call after changing the key of the top item in place. */
  updateTop(): void {
    this.siftDown(0);
  }

  private siftDown(i: number): void {
    const a = this.items;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.before(a[l]!, a[m]!)) m = l;
      if (r < n && this.before(a[r]!, a[m]!)) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }
}
