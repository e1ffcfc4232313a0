/** The floor's one activity: no I/O, so what is measured is Temporal's own round trips. */
export async function echo(text: string): Promise<string> {
  return text;
}
