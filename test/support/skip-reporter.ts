// A node:test reporter that lists the tests that did not run, grouped by
// reason, for scripts/test.sh to print loudly after the summary
// (the spec reporter shows each skip once, somewhere in thousands of lines).
// Writes nothing when nothing was skipped.
//
//   node --test --test-reporter=spec --test-reporter-destination=stdout \
//     --test-reporter=./build/test/support/skip-reporter.js --test-reporter-destination=FILE …
interface SkipEvent {
  type: string;
  data?: { name?: string; skip?: string | boolean; file?: string; details?: { type?: string } };
}

export default async function* skipReporter(source: AsyncIterable<SkipEvent>): AsyncGenerator<string> {
  // reason -> test names (with their file where node:test knows it: tests
  // in a skipped suite are declared by test/support/node-test.ts, which
  // node:test then records as their location)
  const skipped = new Map<string, string[]>();
  const cwd = `${process.cwd()}/`;
  let count = 0;
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const data = event.data;
    if (data?.skip === undefined || data.skip === false || data.details?.type === "suite") continue;
    const reason = data.skip === true ? "skipped" : data.skip;
    const file = data.file && !/node-test\.js$/.test(data.file) ? data.file.replace(/^file:\/\//, "") : undefined;
    const where = file ? ` (${file.startsWith(cwd) ? file.slice(cwd.length) : file})` : "";
    skipped.set(reason, [...(skipped.get(reason) ?? []), `${data.name ?? "?"}${where}`]);
    count++;
  }
  if (count === 0) return;
  yield `${count} test${count === 1 ? "" : "s"} did NOT run:\n`;
  for (const [reason, names] of skipped) {
    yield `  ${names.length} × ${reason}:\n`;
    for (const name of names) yield `      - ${name}\n`;
  }
}
