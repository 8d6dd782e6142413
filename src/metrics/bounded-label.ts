// Label values a caller chooses (an XKS request's kmsOperation, for example) could grow a
// metric without bound. This admits the first `max` distinct values that look like names and
// maps everything else to "other", so a misbehaving client costs one series, not thousands.

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  of(value: string | undefined): string {
    if (value === undefined || value === '') return '';
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max || !NAME.test(value)) return 'other';
    this.seen.add(value);
    return value;
  }
}
