// The engine benchmark's definition on the npm package aws-local-stepfunctions, with the same
// trivial handler (returns its input) for every Task, side by side with sfn-local's run.
// Usage: node aws-local-stepfunctions.mjs ASL_FILE ITEMS RUNS  -> one JSON line on stdout.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

// aws-local-stepfunctions 3 needs Promise.withResolvers (Node >= 22); harmless on newer Node.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const { StateMachine } = await import('aws-local-stepfunctions');

const [aslFile, itemsArg, runsArg] = process.argv.slice(2);
const definition = JSON.parse(readFileSync(aslFile, 'utf8'));
const items = Number(itemsArg);
const runs = Number(runsArg);

const step = async (input) => input;
const taskResourceLocalHandlers = Object.fromEntries(
  ['T1', 'T2', 'T3', 'T4', 'T5'].map((name) => [name, step]),
);
const machine = new StateMachine(definition);
const input = { items: Array.from({ length: items }, (_, id) => ({ id })) };

const seconds = [];
for (let i = 0; i < runs; i += 1) {
  const started = performance.now();
  const execution = machine.run(input, { overrides: { taskResourceLocalHandlers } });
  const output = await execution.result;
  seconds.push((performance.now() - started) / 1000);
  if (!Array.isArray(output) || output.length !== items) {
    throw new Error(`run ${i}: unexpected output`);
  }
}
// States entered per run, counted as sfn-local counts them: the Map, then 5 per item.
const transitions = 1 + 5 * items;
const peakRssKib = Math.round(process.resourceUsage().maxRSS);
console.log(JSON.stringify({
  engine: 'aws-local-stepfunctions',
  node: process.version,
  items,
  transitions,
  seconds,
  peak_rss_kib: peakRssKib,
}));
