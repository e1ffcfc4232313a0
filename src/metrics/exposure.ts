/**
 * Who may read what on /metrics. With METRICS_TOKEN set, only a scraper presenting it (or the admin
 * key) reads the metrics. Without it the endpoint stays open for a private network's scraper, but
 * serves cluster-wide series only: a series labelled by tenant would tell anyone who can reach the
 * port how much each customer uses, so it is dropped here whatever family it belongs to.
 */
export function withoutTenantSeries(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.startsWith('#') || !/[{,]tenant="/.test(line))
    .join('\n');
}
