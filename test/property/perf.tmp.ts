import { runFunction } from "../../src/function.js";
import { applyEdits } from "../../src/resourcelist/edits.js";
import { parseResourceList, resultsEdit } from "../../src/resourcelist/resource-list.js";
import { writeResourceList } from "../../src/resourcelist/write.js";
import { pinImages } from "../../src/pin.js";
import { parseConfig } from "../../src/config.js";
import { FakeSource } from "../support/fake-source.js";
const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const n = Number(process.argv[2] ?? 600);
let items = "";
for (let i = 0; i < n; i++) items += `- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: d${i}\n    namespace: ns\n    labels:\n      app: d${i}\n    annotations:\n      config.kubernetes.io/path: d${i}.yaml\n  spec:\n    replicas: 2\n    selector:\n      matchLabels:\n        app: d${i}\n    template:\n      metadata:\n        labels:\n          app: d${i}\n      spec:\n        containers:\n        - name: main\n          image: reg.example/app${i % 120}:v1\n          ports:\n          - containerPort: 8080\n          env:\n          - name: A\n            value: b\n        - name: side\n          image: reg.example/side:v2\n`;
const input = `apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n${items}`;
console.log("input", input.length);
for (let round = 0; round < 4; round++) {
  const list = parseResourceList(input);
  const report = await pinImages(list, parseConfig(undefined, list.document).options, new FakeSource());
  let t = cpu();
  const e = [...report.edits]; const r = resultsEdit(list, report.results); if (r) e.push(r);
  const plain = applyEdits(list.source, e);
  const a = cpu() - t;
  t = cpu();
  const checked = writeResourceList(list, report.edits, report.results);
  const b = cpu() - t;
  t = cpu();
  await runFunction(input, () => new FakeSource());
  const whole = cpu() - t;
  console.log(`apply ${a.toFixed(1)} ms, write+verify ${b.toFixed(1)} ms, whole run ${whole.toFixed(1)} ms`, plain === checked);
}
